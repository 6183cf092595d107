"""Answers for the research team to follow up: the lowest-fit answers, split ratings, agreement across raters.

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
from numpy.typing import NDArray

from bot.digests.agreement import krippendorff_alpha
from bot.digests.model import AnswerNote, CommentNote, Disagreement, ScaleAlpha
from bot.digests.periods import AnswerTable, RatedPeriod
from bot.digests.rows import AnswerRow, CommentRow
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
    agreement = _agreement(period, pairable, multi_count, raters)
    return Disagreement(
        multi_rated_answers=multi_count,
        split_answers=int(split_positions.size),
        split_share=split_positions.size / multi_count if multi_count else None,
        split_rule=SPLIT_RULE,
        examples=answer_notes(period, order[:SPLIT_EXAMPLES].tolist(), context),
        alpha=agreement.alpha,
        alpha_units=agreement.units,
        alpha_values=agreement.values,
        alpha_raters=agreement.raters,
        alpha_sentence=agreement.sentence,
        alpha_scale=agreement.scale,
        alpha_by_scale=agreement.by_scale,
        alpha_left_out=agreement.left_out,
    )


@dataclass(frozen=True, slots=True)
class _Agreement:
    """Alpha as the digest reports it (`Disagreement`'s alpha fields)."""

    sentence: str
    alpha: float | None
    units: int
    values: int
    raters: int
    scale: int | None = None
    by_scale: tuple[ScaleAlpha, ...] = ()
    left_out: int = 0


def _agreement(period: RatedPeriod, pairable: NDArray[np.bool_], multi_count: int, raters: int) -> _Agreement:
    """Krippendorff's alpha within each rating scale of the ratings of answers rated by two or more members
    (`pairable`), with the sentence that reports it.

    Ratings on two scales are never merged into one set of categories: on a 0–1 fit scale a 3-point "Partly fits"
    and a 5-point 3 would become one value, and the ordinal metric's marginals would mix both scales' frequencies.
    An answer's values are pairable on a scale when it has two or more ratings on that scale; an answer rated once
    on each scale is in no scale's alpha (its ratings are counted as left out)."""
    if multi_count < ALPHA_MIN_UNITS:
        rated_by = "answer was" if multi_count == 1 else "answers were"
        how_many = f"only {multi_count} {rated_by}" if multi_count else "no answer was"
        return _Agreement(
            f"Agreement across raters (Krippendorff's alpha) is not reported: {how_many} "
            f"rated by two or more members, and at least {ALPHA_MIN_UNITS} are needed for a meaningful estimate.",
            None,
            multi_count,
            int(np.count_nonzero(pairable)),
            raters,
        )
    by_scale, left_out = _scale_alphas(period, pairable)
    main = max(by_scale, key=_headline_order)
    one_scale = len(by_scale) == 1 and not left_out
    sentence = _one_scale_sentence(main) if one_scale else _scales_sentence(by_scale, left_out)
    return _Agreement(sentence, main.alpha, main.units, main.values, main.raters, main.scale_size, by_scale, left_out)


def _headline_order(entry: ScaleAlpha) -> tuple[bool, int, int, int]:
    """Which scale's alpha `Disagreement.alpha` gives: the one with the most pairable ratings among those with
    enough answers (the only scale, as a rule); among equals, more answers, then the larger scale."""
    return (entry.units >= ALPHA_MIN_UNITS, entry.values, entry.units, entry.scale_size)


def _scale_alphas(period: RatedPeriod, pairable: NDArray[np.bool_]) -> tuple[tuple[ScaleAlpha, ...], int]:
    """Alpha on each scale with an answer rated twice or more on it (ascending), and how many pairable ratings are
    on none (no other rating of their answer on their scale)."""
    paired = np.zeros(pairable.size, dtype=np.bool_)
    entries = []
    for size in np.unique(period.scale[pairable]).tolist():
        on_scale = pairable & (period.scale == size)
        per_answer = np.bincount(period.rating_index[on_scale], minlength=period.answer_ids.size)
        chosen = on_scale & (per_answer[period.rating_index] >= 2)
        units = int(np.count_nonzero(per_answer >= 2))
        if not units:
            continue
        paired |= chosen
        alpha = None
        if units >= ALPHA_MIN_UNITS:
            alpha = krippendorff_alpha(period.rating_index[chosen], period.fit[chosen], "ordinal").alpha
        raters = int(np.unique(period.rater[chosen]).size)
        entries.append(ScaleAlpha(int(size), alpha, units, int(np.count_nonzero(chosen)), raters))
    return tuple(entries), int(np.count_nonzero(pairable & ~paired))


def _reading(alpha: float) -> str:
    if alpha >= 0.8:
        return "members largely agree on how well answers fit."
    if alpha >= 0.667:
        return "moderate agreement: draw only tentative conclusions from the averages."
    return (
        "members often judge the same answer differently. For cultural fit this can be real variation "
        "within the community rather than noise: read the split answers and their comments."
    )


def _one_scale_sentence(entry: ScaleAlpha) -> str:
    """Every pairable rating on one scale: alpha as it always read."""
    if entry.alpha is None:
        return (
            f"Krippendorff's alpha is undefined: all {entry.values} ratings on the {entry.units} answers rated by "
            "two or more members have the same value, so there is no variation to agree or disagree on."
        )
    return (
        f"Krippendorff's alpha (ordinal) is {entry.alpha:.2f} over {entry.units} answers rated by two or more members "
        f"({entry.values} ratings by {entry.raters} members); 1 is perfect agreement, 0 is agreement no better than "
        f"chance. Reading: {_reading(entry.alpha)}"
    )


def _scales_sentence(by_scale: tuple[ScaleAlpha, ...], left_out: int) -> str:
    """Answers rated by two or more members on two scales: each scale's alpha, and the ratings on neither."""
    parts = [
        "Krippendorff's alpha (ordinal) is computed within each rating scale, not across them: ratings on "
        "different scales are different measurements."
    ]
    readings = []
    for entry in by_scale:
        scale = f"{entry.scale_size}-point scale"
        if entry.units < ALPHA_MIN_UNITS:
            rated_by = "answer was" if entry.units == 1 else "answers were"
            parts.append(
                f"{scale}: not reported, only {entry.units} {rated_by} rated by two or more members on it (at least "
                f"{ALPHA_MIN_UNITS} are needed)."
            )
        elif entry.alpha is None:
            parts.append(
                f"{scale}: undefined, all {entry.values} ratings on its {entry.units} answers rated by two or more "
                "members have the same value."
            )
        else:
            parts.append(
                f"{scale}: {entry.alpha:.2f} over {entry.units} answers rated by two or more members on it "
                f"({entry.values} ratings by {entry.raters} members)."
            )
            readings.append((entry.scale_size, _reading(entry.alpha)))
    if left_out:
        which = (
            "1 rating of an answer rated on more than one scale that has no other rating on its own scale"
            if left_out == 1
            else f"{left_out} ratings of answers rated on more than one scale that have no other rating on their own "
            "scale"
        )
        parts.append(f"Left out: {which} to pair with.")
    if readings:
        parts.append("1 is perfect agreement, 0 is agreement no better than chance.")
        if len({reading for _, reading in readings}) == 1:
            parts.append(f"Reading: {readings[0][1]}")
        else:
            parts.extend(f"Reading, {size}-point: {reading}" for size, reading in readings)
    return " ".join(parts)
