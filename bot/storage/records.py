"""Plain records passed across the storage interface; no SQL or driver types leak out of storage."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """How an answer ended. STREAMING means the model was still writing when it was last saved."""

    STREAMING = "streaming"
    OK = "ok"
    INCOMPLETE = "incomplete"
    FAILED = "failed"
    REFUSED = "refused"


class Arm(StrEnum):
    """The two arms of a randomized comparison of scope versions."""

    CURRENT = "current"  # the server's current version
    ALTERNATIVE = "alternative"  # the version it is compared with


class RatingSource(StrEnum):
    REACTION = "reaction"
    BUTTON = "button"


@dataclass(frozen=True, slots=True)
class NewAnswer:
    """What is known when an answer starts: the question and where it was asked."""

    guild_id: int
    channel_id: int
    question_message_id: int | None
    asker_hash: str
    question: str
    model: str
    scope_version_id: int | None = None
    parent_answer_id: int | None = None
    cues: dict[str, object] | None = None
    sections: tuple[str, ...] = ()
    prompt_sha256: str | None = None  # keyed: HMAC-SHA256 with the pseudonym key (Pseudonymizer.prompt)
    ephemeral: bool = False
    comparison_id: int | None = None  # the randomized comparison the answer was part of
    arm: Arm | None = None  # and which version it was answered under
    thread_parent_id: int | None = None  # the channel of the thread `channel_id` names, if it is a thread
    rating_scale: str | None = None  # the scale its rating controls show (the server's when it was asked)


@dataclass(frozen=True, slots=True)
class AnswerResult:
    """What is known when an answer ends."""

    answer: str
    outcome: Outcome
    error: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    tokens_estimated: bool = False
    ttft_ms: int | None = None
    total_ms: int | None = None


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    answer_id: int
    guild_id: int
    channel_id: int
    asker_hash: str
    question: str
    answer: str
    model: str
    outcome: Outcome
    error: str | None
    tokens_in: int | None
    tokens_out: int | None
    ttft_ms: int | None
    total_ms: int | None
    rating_scale: str | None = None  # the scale its controls were shown with; None: recorded before it was kept


@dataclass(frozen=True, slots=True)
class Rating:
    answer_id: int
    rater_hash: str
    value: int
    scale_size: int
    is_asker: bool
    source: RatingSource
    # As read back: the value it had before the member last changed it on the same scale (migration 0022), if any.
    previous_value: int | None = None


class ConsentChanged(Exception):
    """A rating or comment not stored: the member's consent no longer covers it (changed while it was handled)."""


class ScopeSource(StrEnum):
    """How a scope version came to be."""

    TEMPLATE = "template"
    UPLOAD = "upload"
    EDIT = "edit"
    ROLLBACK = "rollback"


@dataclass(frozen=True, slots=True)
class NewScopeVersion:
    guild_id: int
    scope_id: str
    title: str
    content: str
    source: ScopeSource
    change_summary: str
    author_id: int
    # The current version (its version_id) the change was made from: when set, the change is refused with
    # `StaleScope` if another version became current meanwhile. None: the change replaces whatever is current.
    based_on: int | None = None


class StaleScope(Exception):
    """A scope change made from a version that is no longer current (`NewScopeVersion.based_on`)."""


@dataclass(frozen=True, slots=True)
class ScopeVersion:
    """One immutable version of a server's scope; `number` counts 1, 2, 3... within the server."""

    version_id: int
    guild_id: int
    number: int
    scope_id: str
    title: str
    content: str
    content_sha256: str
    source: ScopeSource
    change_summary: str
    author_id: int
    created_at: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """A randomized comparison of two scope versions in one server (running while `ended_at` is None)."""

    comparison_id: int
    guild_id: int
    current: ScopeVersion
    alternative: ScopeVersion
    alternative_share: float  # the share of members answered under `alternative`
    started_by: int
    started_at: str
    ended_at: str | None = None
    end_reason: str | None = None

    def version(self, arm: Arm) -> ScopeVersion:
        return self.current if arm is Arm.CURRENT else self.alternative


@dataclass(frozen=True, slots=True)
class ScopeChange:
    """A stored scope change: the version it made current, and the randomized comparison it ended (as ended) when
    one was running. Both come from the change's own transaction, so a moderator is told about the comparison
    their change ended, whatever another moderator did at the same moment."""

    version: ScopeVersion
    ended: Comparison | None = None


@dataclass(frozen=True, slots=True)
class ScopeCleared:
    """A cleared scope: the randomized comparison the clearing ended, if one was running (see ScopeChange)."""

    ended: Comparison | None = None


DEFAULT_REASON_TAGS = (
    "too generic",
    "stereotyped",
    "wrong register or formality",
    "factually wrong",
    "misses variation",
    "out of scope",
    "good nuance",
    "useful",
)


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """Per-server settings; the defaults here match the database's column defaults."""

    guild_id: int
    current_scope_id: int | None = None
    allow_unscoped: bool = False
    log_channel_id: int | None = None
    research_contact: str | None = None
    retention_days: int = 180
    consent_note: str | None = None
    consent_revision: int = 1
    rating_scale: str = "fit3"
    rating_controls: str = "both"
    reason_tags: tuple[str, ...] = DEFAULT_REASON_TAGS
    answer_channels: tuple[int, ...] = ()  # empty: every channel the bot can read
    cooldown_seconds: int = 10
    daily_token_budget: int = 200_000
    instructions: str | None = None
    answer_language: str | None = None
    digest_enabled: bool = True
    digest_cron: str = "0 9 * * mon"
    digest_timezone: str = "UTC"
    digest_channel_id: int | None = None
    research_role_id: int | None = None
    answer_in_threads: bool = False
    digest_data_files: bool = True  # each posted digest carries data.zip (every comment, quotable or not)


# The consent notice's text version (the first part of a consent's version, "2.0") from which choosing quotes
# also covers quotes of the member's questions; version 1 spoke of comments only (bot/feedback/consent.py).
QUOTES_COVER_QUESTIONS_FROM = 2


class ConsentLevel(StrEnum):
    """What a member agreed to; each level includes the ones before it (except DECLINED)."""

    DECLINED = "declined"
    RATINGS = "ratings"
    COMMENTS = "comments"
    QUOTES = "quotes"

    @property
    def allows_ratings(self) -> bool:
        return self is not ConsentLevel.DECLINED

    @property
    def allows_comments(self) -> bool:
        return self in (ConsentLevel.COMMENTS, ConsentLevel.QUOTES)

    @property
    def allows_quotes(self) -> bool:
        return self is ConsentLevel.QUOTES


@dataclass(frozen=True, slots=True)
class Consent:
    guild_id: int
    member_hash: str
    level: ConsentLevel
    consent_version: str
    dm_opt_in: bool
    decided_at: str


class CommentSource(StrEnum):
    MODAL = "modal"
    REPLY = "reply"


@dataclass(frozen=True, slots=True)
class NewComment:
    answer_id: int
    rater_hash: str
    text: str
    source: CommentSource
    quotable: bool
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What `forget_member` removed: row counts by kind, and the threads named after the member's questions
    (the bot opened them from the question's message; their Discord name is still the question's start)."""

    counts: dict[str, int]
    question_threads: list[int]


SYSTEM_ACTOR = 0  # the actor of audit entries for what the bot did itself (no Discord user has id 0)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    guild_id: int
    actor_id: int
    action: str
    detail: str
    created_at: str


class DigestStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    UNDELIVERED = "undelivered"


@dataclass(frozen=True, slots=True)
class InterruptedAnswer:
    """An answer a crash left being written: its last Discord message still shows the typing cursor."""

    answer_id: int
    channel_id: int
    last_message_id: int | None  # None: none linked yet, or only its asker saw it (ephemeral: not editable now)
    # For a message Discord made that the crash kept from being linked (bot/answers/interrupted.py finds it):
    next_part: int = 0  # the part that message would be (the answer's linked messages come before it)
    question_message_id: int | None = None  # the question it replies to, when asked by message
    started_at: str = ""  # when the answer's record was written (before its first message was sent)
    closed_at: str = ""  # when the restart closed the record (before this start's first answer)
    ephemeral: bool = False  # seen only by its asker: not in the channel, nothing to find or close


@dataclass(frozen=True, slots=True)
class DigestRecord:
    digest_id: int
    guild_id: int
    period_start: str
    period_end: str
    status: DigestStatus
    channel_id: int | None
    message_id: int | None
    files_dir: str | None
    error: str | None
    created_at: str | None = None  # when the period was claimed: the digest cannot have been posted before
    on_demand: bool = False  # asked for with `/digest now`: posted (and retried) even while digests are off
    compared_from: str | None = None  # where the period compared with starts, as claimed (None: from the schedule)
