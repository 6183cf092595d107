"""Answers for the research team to follow up: the lowest-fit answers, split ratings, agreement across raters.

Only comments whose authors allowed quoting are shown next to an answer (the reports go to the digest channel);
the others are counted, so the research team knows to read them in the data files. Members appear as
per-digest aliases ("Member A"), never as their hashes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

import numpy as np
from numpy.typing import NDArray

from bot.digests.agreement import krippendorff_alpha
from bot.digests.model import AnswerNote, CommentNote, Disagreement
from bot.digests.periods import AnswerTable, RatedPeriod
from bot.digests.rows import CommentRow
from bot.digests.text import safe_excerpt, safe_text

ANSWER_EXCERPT = 300
QUESTION_EXCERPT = 300
COMMENT_EXCERPT = 1000
LOWEST_FIT_LIMIT = 10
SPLIT_EXAMPLES = 10
COMMENTS_PER_ANSWER = 10
ALPHA_MIN_UNITS = 10

SPLIT_RULE = (
    "An answer's ratings are split when it has at least one rating at the top and one at the bottom of the "
    "scale, or when its ratings span at least half of the scale's values (3 or more steps on a 5-point scale)."
)

_ANSWER_ID = attrgetter("answer_id")


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
                question=safe_excerpt(row.question, QUESTION_EXCERPT) if row else "",
                answer_excerpt=safe_excerpt(row.answer, ANSWER_EXCERPT) if row else "",
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


def disagreement(period: RatedPeriod, context: Context) -> Disagreement:
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
    sentence, alpha, units, values = _alpha_sentence(period, pairable, multi_count, raters)
    return Disagreement(
        multi_rated_answers=multi_count,
        split_answers=int(split_positions.size),
        split_share=split_positions.size / multi_count if multi_count else None,
        split_rule=SPLIT_RULE,
        examples=answer_notes(period, order[:SPLIT_EXAMPLES].tolist(), context),
        alpha=alpha,
        alpha_units=units,
        alpha_values=values,
        alpha_raters=raters,
        alpha_sentence=sentence,
    )


def _alpha_sentence(
    period: RatedPeriod, pairable: NDArray[np.bool_], multi_count: int, raters: int
) -> tuple[str, float | None, int, int]:
    if multi_count < ALPHA_MIN_UNITS:
        rated_by = "answer was" if multi_count == 1 else "answers were"
        return (
            f"Agreement across raters (Krippendorff's alpha) is not reported: only {multi_count} {rated_by} "
            f"rated by two or more members, and at least {ALPHA_MIN_UNITS} are needed for a meaningful estimate.",
            None,
            multi_count,
            int(np.count_nonzero(pairable)),
        )
    result = krippendorff_alpha(period.rating_index[pairable], period.fit[pairable], "ordinal")
    if result.alpha is None:
        return (
            f"Krippendorff's alpha is undefined: all {result.values} ratings on the {result.units} answers rated by "
            "two or more members have the same value, so there is no variation to agree or disagree on.",
            None,
            result.units,
            result.values,
        )
    alpha = result.alpha
    if alpha >= 0.8:
        reading = "members largely agree on how well answers fit."
    elif alpha >= 0.667:
        reading = "moderate agreement: draw only tentative conclusions from the averages."
    else:
        reading = (
            "members often judge the same answer differently. For cultural fit this can be real variation "
            "within the community rather than noise: read the split answers and their comments."
        )
    mixed = len(set(period.scale[pairable].tolist())) > 1
    scales = " 3- and 5-point ratings share one ordinal 0–1 fit scale." if mixed else ""
    return (
        f"Krippendorff's alpha (ordinal) is {alpha:.2f} over {result.units} answers rated by two or more members "
        f"({result.values} ratings by {raters} members); 1 is perfect agreement, 0 is agreement no better than "
        f"chance. Reading: {reading}{scales}",
        alpha,
        result.units,
        result.values,
    )
