"""Answers for the research team to follow up: the lowest-fit answers, split ratings, agreement across raters
(rater_agreement.py).

Only comments whose authors allowed quoting are shown next to an answer (the reports go to the digest channel);
the others are counted, so the research team knows to read them in the data files. Members appear as
per-digest aliases ("Member A"), never as their hashes. A question is shown only when it was asked in public and
its asker allows quoting; a private answer shows neither its question nor its text (which often restates the
question): a placeholder says why (`question_texts`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

import numpy as np

from bot.digests.model import AnswerNote, CommentNote, Disagreement
from bot.digests.periods import AnswerTable, RatedPeriod
from bot.digests.rater_agreement import FloatArray, agreement
from bot.digests.rows import AnswerRow, CommentRow
from bot.digests.text import safe_excerpt, safe_text

ANSWER_EXCERPT = 300
QUESTION_EXCERPT = 300
COMMENT_EXCERPT = 1000
LOWEST_FIT_LIMIT = 10
SPLIT_EXAMPLES = 10
COMMENTS_PER_ANSWER = 10

SPLIT_RULE = (
    "An answer's ratings are split when it has at least one rating at the top and one at the bottom of the "
    "scale, or when its ratings span at least half of the scale's values (3 or more steps on a 5-point scale)."
)

_ANSWER_ID = attrgetter("answer_id")

# Why a question is not shown (`AnswerNote.question_withheld`), and what stands in for the texts.
QUESTION_PRIVATE = "private"
QUESTION_NOT_QUOTABLE = "not_quotable"
PRIVATE_QUESTION = "(question not shown: asked privately)"
PRIVATE_ANSWER = "(answer not shown: asked privately)"
UNQUOTABLE_QUESTION = "(question not shown: the asker did not allow quoting)"


def question_texts(row: AnswerRow) -> tuple[str, str, str | None]:
    """What an answer note shows of the question and the answer (defused excerpts, or placeholders), and why the
    question is withheld (None when shown)."""
    if row.private:
        return PRIVATE_QUESTION, PRIVATE_ANSWER, QUESTION_PRIVATE
    answer = safe_excerpt(row.answer, ANSWER_EXCERPT)
    if not row.question_quotable and row.question:  # an empty question (purged, forgotten) has nothing to hide
        return UNQUOTABLE_QUESTION, answer, QUESTION_NOT_QUOTABLE
    return safe_excerpt(row.question, QUESTION_EXCERPT), answer, None


class Aliases:
    """Per-digest member aliases in order of first appearance: Member A, B, …, Z, AA, AB, …"""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def __call__(self, rater_hash: str) -> str:
        name = self._names.get(rater_hash)
        if name is None:
            name = "Member " + _letters(len(self._names))
            self._names[rater_hash] = name
        return name


def _letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


@dataclass(frozen=True, slots=True)
class Context:
    """What answer notes draw on besides the ratings."""

    table: AnswerTable
    comments_by_answer: dict[int, list[CommentRow]]
    aliases: Aliases


def answer_notes(period: RatedPeriod, positions: Iterable[int], context: Context) -> tuple[AnswerNote, ...]:
    """Notes on the rated answers at these positions (in period.answer_ids), in the order given."""
    chosen = [int(position) for position in positions]
    if not chosen:
        return ()
    # Ratings and reason tags of the chosen answers, found with numpy rather than a Python pass over all.
    rating_counts: dict[int, Counter[str]] = defaultdict(Counter)
    for index in np.flatnonzero(np.isin(period.rating_index, chosen)).tolist():
        rating_counts[int(period.rating_answer[index])][f"{period.value[index]}/{period.scale[index]}"] += 1
    wanted = period.answer_ids[chosen]
    reasons_rows = period.rows.reasons
    reason_answer = np.fromiter(map(_ANSWER_ID, reasons_rows), np.int64, count=len(reasons_rows))
    reasons: dict[int, Counter[str]] = defaultdict(Counter)
    for index in np.flatnonzero(np.isin(reason_answer, wanted)).tolist():
        reasons[int(reason_answer[index])][safe_text(reasons_rows[index].tag)] += 1
    notes = []
    for position in chosen:
        answer_id = int(period.answer_ids[position])
        row = context.table.by_id.get(answer_id)
        every = context.comments_by_answer.get(answer_id, [])
        comments = sorted((c for c in every if c.quotable), key=lambda c: (c.created_at, c.comment_id))
        question, answer, withheld = question_texts(row) if row else ("", "", None)
        private = withheld == QUESTION_PRIVATE
        notes.append(
            AnswerNote(
                answer_id=answer_id,
                known=row is not None,
                channel_id=row.channel_id if row else None,
                created_at=row.created_at if row else None,
                outcome=row.outcome if row else None,
                scope_version=row.scope_version if row else None,
                language=safe_text(row.language) if row and row.language else None,
                setting=safe_text(row.setting) if row and row.setting else None,
                question=question,
                answer_excerpt=answer,
                ratings=round(float(period.count[position])),
                mean_fit=float(period.mean[position]),
                rating_counts=dict(sorted(rating_counts[answer_id].items())),
                reasons=dict(sorted(reasons[answer_id].items(), key=lambda item: (-item[1], item[0]))),
                comments=tuple(
                    CommentNote(
                        comment.comment_id,
                        context.aliases(comment.rater_hash),
                        safe_excerpt(comment.text, COMMENT_EXCERPT),
                        comment.created_at,
                    )
                    for comment in comments[:COMMENTS_PER_ANSWER]
                ),
                more_comments=max(0, len(comments) - COMMENTS_PER_ANSWER),
                unquotable_comments=len(every) - len(comments),
                private=private,
                question_withheld=withheld,
            )
        )
    return tuple(notes)


def lowest_fit(period: RatedPeriod, context: Context) -> tuple[tuple[AnswerNote, ...], int]:
    """Rated answers with a mean fit below 1, lowest first (among equals more ratings first, then by id), at most
    LOWEST_FIT_LIMIT; and how many more have the same mean fit as the last one listed (cut off by the limit).

    An answer whose every rating is at the top (mean fit 1) is not a low fit, however few answers there are."""
    below = np.flatnonzero(period.mean < 1)
    if below.size == 0:
        return (), 0
    order = below[np.lexsort((period.answer_ids[below], -period.count[below], period.mean[below]))]
    shown = order[:LOWEST_FIT_LIMIT]
    ties = int(np.count_nonzero(period.mean[order[LOWEST_FIT_LIMIT:]] == period.mean[shown[-1]]))
    return answer_notes(period, shown.tolist(), context), ties


def disagreement(
    period: RatedPeriod, context: Context, alpha_replicates: dict[int, FloatArray] | None = None
) -> Disagreement:
    """Split answers, and agreement across raters (rater_agreement.py) with intervals from each scale's
    `alpha_replicates` (`rater_agreement.split_replicates` of the period's bootstrap)."""
    size = period.answer_ids.size
    low = np.full(size, np.inf)
    high = np.full(size, -np.inf)
    widest_scale = np.zeros(size, dtype=np.int64)
    np.minimum.at(low, period.rating_index, period.fit)
    np.maximum.at(high, period.rating_index, period.fit)
    np.maximum.at(widest_scale, period.rating_index, period.scale)
    multi = period.count >= 2
    spread = np.where(multi, high - low, 0.0)
    # "Half the scale's values": scale_size / 2 steps of 1 / (scale_size - 1) each, on the 0..1 fit scale.
    half = np.where(widest_scale > 1, (widest_scale / 2) / np.maximum(widest_scale - 1, 1), np.inf)
    split = multi & (((low == 0) & (high == 1)) | (spread >= half - 1e-9))
    split_positions = np.flatnonzero(split)
    order = split_positions[
        np.lexsort((period.answer_ids[split_positions], -period.count[split_positions], -spread[split_positions]))
    ]
    multi_count = int(np.count_nonzero(multi))
    pairable = multi[period.rating_index]
    raters = int(np.unique(period.rater[pairable]).size)
    agreed = agreement(period, pairable, multi_count, raters, alpha_replicates)
    return Disagreement(
        multi_rated_answers=multi_count,
        split_answers=int(split_positions.size),
        split_share=split_positions.size / multi_count if multi_count else None,
        split_rule=SPLIT_RULE,
        examples=answer_notes(period, order[:SPLIT_EXAMPLES].tolist(), context),
        alpha=agreed.alpha,
        alpha_units=agreed.units,
        alpha_values=agreed.values,
        alpha_raters=agreed.raters,
        alpha_sentence=agreed.sentence,
        alpha_scale=agreed.scale,
        alpha_low=headline.low if (headline := agreed.headline) is not None else None,
        alpha_high=headline.high if headline is not None else None,
        alpha_interval=headline.interval if headline is not None else None,
        alpha_by_scale=agreed.by_scale,
        alpha_left_out=agreed.left_out,
    )
