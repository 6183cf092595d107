"""The plain rows a digest is computed from, as the storage layer returns them for one server and period.

Everything here is already pseudonymised: members appear only as keyed hashes, as stored (the data files give
them per-server pseudonyms instead, exports.py). Times are ISO 8601 UTC strings as stored
("2026-11-23T09:00:00.000Z"). Text fields are "" once the retention job purged them.

The row classes are read-only by convention, not frozen: a frozen dataclass sets each field through
object.__setattr__, which made building a 5,000-rating server's rows (both periods, about 18,000 rows)
take 15 ms longer, a fifth of reading them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class AnswerRow:
    answer_id: int
    channel_id: int
    created_at: str
    asker_hash: str
    question: str
    answer: str
    outcome: str  # ok, incomplete, failed, refused
    scope_version: int | None  # the server's version number (1, 2, ...), None when answered unscoped
    language: str | None  # from the answer's cues
    setting: str | None  # from the answer's cues (e.g. "funeral", "workplace")
    tokens_in: int | None
    tokens_out: int | None
    tokens_estimated: bool  # the model server reported no usage: the bot estimated tokens_in and tokens_out
    ttft_ms: int | None
    total_ms: int | None
    # "<comparison id>:<arm>" ("3:alternative") when answered in a randomized comparison of scope versions
    arm: str | None = None
    model: str | None = None  # the model name the bot asked (answers.model)
    private: bool = False  # asked with `/ask private:True`: the answer was shown only to the asker
    parent_answer_id: int | None = None  # the answer this question continued (a reply or thread), else None
    # The question may be shown in the reports and quoted: the answer was not private and its asker's consent
    # allows quoting, as it stands when the rows are read (a withdrawal hides it from later digests).
    question_quotable: bool = False


@dataclass(slots=True)
class RatingRow:
    answer_id: int
    rater_hash: str
    value: int  # 1..scale_size, higher = better fit
    scale_size: int  # 3 (fits / partly / does not fit) or 5
    is_asker: bool
    source: str  # reaction or button
    created_at: str
    updated_at: str


@dataclass(slots=True)
class ReasonRow:
    answer_id: int
    rater_hash: str
    tag: str


@dataclass(slots=True)
class CommentRow:
    comment_id: int
    answer_id: int
    rater_hash: str
    text: str
    quotable: bool  # the member allowed anonymous quoting
    created_at: str


@dataclass(slots=True)
class AuditRow:
    action: str  # e.g. scope.upload, scope.edit, scope.rollback, settings.update
    detail: str
    created_at: str


@dataclass(frozen=True, slots=True)
class DigestRows:
    """One server's data for one period [start, end)."""

    guild_id: int
    guild_name: str
    start: str
    end: str
    answers: list[AnswerRow] = field(default_factory=list)
    ratings: list[RatingRow] = field(default_factory=list)
    reasons: list[ReasonRow] = field(default_factory=list)
    comments: list[CommentRow] = field(default_factory=list)
    audit: list[AuditRow] = field(default_factory=list)
    declined: int = 0  # members who declined, counted by their decision time in the period
    withdrew: int = 0  # members who lowered or withdrew consent in the period
    # Feedback (ratings, reasons, comments) given before this time is in the rows; None: before `end`.
    feedback_before: str | None = None
    # The server's scope version in use at `end` (its number), None when none was or it is not known.
    scope_version: int | None = None
    # Each member's consent as it stood at `end`, by member hash: the level of their latest decision made before it
    # (declined, ratings, comments or quotes). Only decisions still held: a member who asked to be forgotten has
    # none left, and one who never answered the consent notice never had one.
    consent_levels: dict[str, str] = field(default_factory=dict)
