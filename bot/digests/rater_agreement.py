"""Agreement across raters as the digest reports it: Krippendorff's alpha (ordinal, agreement.py) within each rating
scale, with a 95% interval, and the sentence that reads it.

Ratings on two scales are never merged into one set of categories: on a 0–1 fit scale a 3-point "Partly fits" and a
5-point 3 would become one value, and the ordinal metric's marginals would mix both scales' frequencies. An answer's
values are pairable on a scale when it has two or more ratings on that scale; an answer rated once on each scale is
in no scale's alpha (its ratings are counted as left out).

The interval is a cluster-bootstrap percentile interval, like the fits': each rated answer's coincidences on a
scale (`coincidence_columns`) are summed over the same draws of answers as the fit statistics (stats.py hands them to
the period's one bootstrap), and each replicate's alpha comes from its summed coincidences
(`agreement.alpha_of`). Resampling answers keeps each answer's ratings together. A replicate has no alpha when the
answers it drew have no variation between them (every pairable rating alike); when more than
`ALPHA_UNDEFINED_LIMIT` of the replicates have none, the estimate rests on the few answers whose ratings vary, and no
interval is given (`ALPHA_UNSTABLE`). Nor when every replicate gives the same alpha (`ALPHA_NO_SPREAD`; perfect
agreement on every answer gives 1 in every replicate): an interval "1.00 to 1.00" would claim a certainty that a
resample of the same answers cannot show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.digests.agreement import alpha_of, krippendorff_alpha, unit_coincidences
from bot.digests.bootstrap import percentile_interval
from bot.digests.formatting import MINUS
from bot.digests.model import Disagreement, ScaleAlpha
from bot.digests.periods import RatedPeriod

FloatArray = NDArray[np.float64]

ALPHA_MIN_UNITS = 10
ALPHA_UNDEFINED_LIMIT = 0.05  # share of replicates without an alpha beyond which no interval is given
ALPHA_UNSTABLE = "unstable"  # `ScaleAlpha.interval`: too many replicates without an alpha
ALPHA_NO_SPREAD = "no_spread"  # `ScaleAlpha.interval`: every replicate's alpha the same (perfect agreement, as a rule)
# Krippendorff's (2004) thresholds: >= 0.8 reliable, >= 0.667 for tentative conclusions.
READING_BOUNDS = (0.667, 0.8)


@dataclass(frozen=True, slots=True)
class CoincidenceColumns:
    """Each rated answer's coincidences on each rating scale (zero where it has fewer than two ratings on that
    scale), as the bootstrap's extra columns: each scale's upper triangle, scale after scale (coincidence matrices
    are symmetric: 6 columns for a 3-point scale, not 9; fewer columns, a cheaper product)."""

    scale_sizes: tuple[int, ...]  # ascending; only scales on which some answer has two or more ratings
    columns: FloatArray | None  # (rated answers, columns); None without such a scale


def coincidence_columns(period: RatedPeriod) -> CoincidenceColumns:
    """The period's `CoincidenceColumns`, written scale by scale into one array (a large server's are a few MB)."""
    answers = period.answer_ids.size
    counts_by_scale = []
    for size in np.unique(period.scale).tolist():
        on_scale = period.scale == size
        cells = period.rating_index[on_scale] * size + (period.value[on_scale] - 1)
        counts = np.bincount(cells, minlength=answers * size).reshape(answers, size).astype(np.float64)
        if np.any(counts.sum(axis=1) >= 2):
            counts_by_scale.append((int(size), counts))
    if not counts_by_scale:
        return CoincidenceColumns((), None)
    columns = np.empty((answers, sum(size * (size + 1) // 2 for size, _ in counts_by_scale)))
    column = 0
    for size, counts in counts_by_scale:
        width = size * (size + 1) // 2
        columns[:, column : column + width] = upper_triangles(unit_coincidences(counts))
        column += width
    return CoincidenceColumns(tuple(size for size, _ in counts_by_scale), columns)


def upper_triangles(matrices: FloatArray) -> FloatArray:
    """(..., s, s) symmetric matrices as (..., s(s+1)/2): each one's upper triangle, row by row."""
    size = matrices.shape[-1]
    result: FloatArray = matrices[..., *np.triu_indices(size)]
    return result


def split_replicates(scale_sizes: Sequence[int], replicates: FloatArray) -> dict[int, FloatArray]:
    """The bootstrap's replicates of `CoincidenceColumns.columns` back as each scale's summed coincidences, (resamples,
    s, s)."""
    result = {}
    column = 0
    for size in scale_sizes:
        upper = np.triu_indices(size)
        part = replicates[:, column : column + upper[0].size]
        matrices = np.zeros((part.shape[0], size, size))
        matrices[:, *upper] = part
        matrices[:, upper[1], upper[0]] = part  # the lower triangle mirrors the upper (the diagonal twice, alike)
        result[size] = matrices
        column += upper[0].size
    return result


def alpha_interval(replicates: FloatArray, scale_size: int) -> tuple[float | None, float | None, str | None]:
    """The 95% interval of alpha from one scale's replicated coincidences, or no bounds and why (ALPHA_UNSTABLE,
    ALPHA_NO_SPREAD; no reason either with fewer than two replicates, as with `bootstrap=1`: nothing to tell)."""
    if replicates.shape[0] < 2:
        return None, None, None
    alphas = alpha_of(replicates.astype(np.float64), np.arange(scale_size, dtype=np.float64))
    if np.count_nonzero(np.isnan(alphas)) > ALPHA_UNDEFINED_LIMIT * alphas.size:
        return None, None, ALPHA_UNSTABLE
    interval = percentile_interval(alphas)
    if interval is None:
        return None, None, ALPHA_UNSTABLE
    if np.nanmin(alphas) == np.nanmax(alphas):  # exact: perfect agreement gives exactly 1 (no disagreement at all)
        return None, None, ALPHA_NO_SPREAD
    return interval[0], interval[1], None


@dataclass(frozen=True, slots=True)
class Agreement:
    """Alpha as the digest reports it (`Disagreement`'s alpha fields)."""

    sentence: str
    alpha: float | None
    units: int
    values: int
    raters: int
    scale: int | None = None
    by_scale: tuple[ScaleAlpha, ...] = ()
    left_out: int = 0

    @property
    def headline(self) -> ScaleAlpha | None:
        """The entry of `scale`, whose alpha is `alpha`."""
        return next((entry for entry in self.by_scale if entry.scale_size == self.scale), None)


def agreement(
    period: RatedPeriod,
    pairable: NDArray[np.bool_],
    multi_count: int,
    raters: int,
    replicates: dict[int, FloatArray] | None = None,
) -> Agreement:
    """Krippendorff's alpha within each rating scale of the ratings of answers rated by two or more members
    (`pairable`), with its interval from each scale's `replicates` (`split_replicates`; none without), and the
    sentence that reports it."""
    if multi_count < ALPHA_MIN_UNITS:
        rated_by = "answer was" if multi_count == 1 else "answers were"
        how_many = f"only {multi_count} {rated_by}" if multi_count else "no answer was"
        return Agreement(
            f"Agreement across raters (Krippendorff's alpha) is not reported: {how_many} "
            f"rated by two or more members, and at least {ALPHA_MIN_UNITS} are needed for a meaningful estimate.",
            None,
            multi_count,
            int(np.count_nonzero(pairable)),
            raters,
        )
    by_scale, left_out = _scale_alphas(period, pairable, replicates or {})
    if not by_scale:
        # Rated by two or more members, but each on another scale (answers from before scales were stored with
        # them, rated before and after a change): no two ratings of one answer are one measurement.
        return Agreement(
            "Agreement across raters (Krippendorff's alpha) is not reported: the answers rated by two or more members "
            f"were each rated on different scales ({left_out} ratings), and ratings on different scales are different "
            "measurements, with no other rating on their own scale to pair with.",
            None,
            multi_count,
            int(np.count_nonzero(pairable)),
            raters,
            left_out=left_out,
        )
    main = max(by_scale, key=_headline_order)
    one_scale = len(by_scale) == 1 and not left_out
    sentence = _one_scale_sentence(main) if one_scale else _scales_sentence(by_scale, left_out)
    return Agreement(sentence, main.alpha, main.units, main.values, main.raters, main.scale_size, by_scale, left_out)


def _headline_order(entry: ScaleAlpha) -> tuple[bool, int, int, int]:
    """Which scale's alpha `Disagreement.alpha` gives: the one with the most pairable ratings among those with
    enough answers (the only scale, as a rule); among equals, more answers, then the larger scale."""
    return (entry.units >= ALPHA_MIN_UNITS, entry.values, entry.units, entry.scale_size)


def _scale_alphas(
    period: RatedPeriod, pairable: NDArray[np.bool_], replicates: dict[int, FloatArray]
) -> tuple[tuple[ScaleAlpha, ...], int]:
    """Alpha on each scale with an answer rated twice or more on it (ascending), with its interval where the scale
    has `replicates`, and how many pairable ratings are on none (no other rating of their answer on their scale)."""
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
        low = high = why = None
        if units >= ALPHA_MIN_UNITS:
            alpha = krippendorff_alpha(period.rating_index[chosen], period.fit[chosen], "ordinal").alpha
            if alpha is not None and size in replicates:
                low, high, why = alpha_interval(replicates[size], size)
        raters = int(np.unique(period.rater[chosen]).size)
        entries.append(ScaleAlpha(int(size), alpha, units, int(np.count_nonzero(chosen)), raters, low, high, why))
    return tuple(entries), int(np.count_nonzero(pairable & ~paired))


def _reading(entry: ScaleAlpha) -> str:
    """How the alpha reads (Krippendorff's thresholds), and what its interval leaves open."""
    assert entry.alpha is not None
    return " ".join([_reading_of(entry.alpha), *(f"{note[:1].upper()}{note[1:]}." for note in _left_open(entry))])


def _left_open(entry: ScaleAlpha) -> list[str]:
    """What the alpha's interval leaves open, as clauses ("its interval includes 0: …"); none without one."""
    if entry.low is None or entry.high is None:
        return []
    # As shown (two decimals): a bound shown as 0.80 does not reach below 0.8.
    low, high = round(entry.low, 2), round(entry.high, 2)
    notes = []
    crossed = [bound for bound in READING_BOUNDS if low < bound <= high]
    if crossed:
        bounds = " and ".join(f"{bound:.3g}" for bound in crossed)
        notes.append(f"its interval reaches across {bounds}, so this reading is not settled")
    if low <= 0 <= high:
        notes.append("its interval includes 0: agreement no better than chance is not ruled out")
    return notes


def _reading_of(alpha: float) -> str:
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
        f"Krippendorff's alpha (ordinal) is {alpha_text(entry)} over {entry.units} answers rated by two or more "
        f"members ({entry.values} ratings by {entry.raters} members); 1 is perfect agreement, 0 is agreement no "
        f"better than chance. Reading: {_reading(entry)}"
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
                f"{scale}: {alpha_text(entry)} over {entry.units} answers rated by two or more members on it "
                f"({entry.values} ratings by {entry.raters} members)."
            )
            readings.append((entry, entry.alpha))
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
        if len({_reading_of(alpha) for _, alpha in readings}) == 1:
            # One reading for all, then what each scale's interval leaves open.
            parts.append(f"Reading: {_reading_of(readings[0][1])}")
            parts.extend(
                f"On the {entry.scale_size}-point scale, {note}." for entry, _ in readings for note in _left_open(entry)
            )
        else:
            parts.extend(f"Reading, {entry.scale_size}-point: {_reading(entry)}" for entry, _ in readings)
    return " ".join(parts)


def alpha_text(entry: ScaleAlpha) -> str:
    """An alpha with its interval, "0.42 (95% CI 0.31 to 0.52)", "−0.05 (95% CI −0.20 to 0.11)", or why it has none."""
    value = _number(entry.alpha)
    if entry.low is not None and entry.high is not None:
        return f"{value} (95% CI {_number(entry.low)} to {_number(entry.high)})"
    if entry.interval == ALPHA_UNSTABLE:
        return (
            f"{value} (no interval: in more than {ALPHA_UNDEFINED_LIMIT:.0%} of resamples the drawn answers' ratings "
            "did not vary, so the estimate rests on the few answers whose ratings do)"
        )
    if entry.interval == ALPHA_NO_SPREAD:
        return f"{value} (no interval: every resample of the answers with an alpha gives the same one)"
    return value


def _number(value: float | None) -> str:
    assert value is not None
    shown = f"{value:.2f}"
    return "0.00" if shown == "-0.00" else shown.replace("-", MINUS)


def agreement_brief(disagreement: Disagreement, limit: int) -> str:
    """The agreement sentence where it fits in `limit` characters (an embed field's), else each scale's alpha with
    its interval in one line, the readings left to the report (two scales with intervals and their readings run
    past a field's 1,024 characters)."""
    sentence = disagreement.alpha_sentence
    if len(sentence) <= limit or len(disagreement.alpha_by_scale) < 2:
        return sentence
    parts = []
    for entry in disagreement.alpha_by_scale:
        scale = f"{entry.scale_size}-point scale"
        if entry.units < ALPHA_MIN_UNITS:
            parts.append(f"{scale}: not reported ({entry.units} answers rated by two or more members on it)")
        elif entry.alpha is None:
            parts.append(f"{scale}: undefined (every rating on it alike)")
        else:
            parts.append(f"{scale}: {alpha_text(entry)} over {entry.units} answers")
    return (
        "Krippendorff's alpha (ordinal), within each rating scale: " + "; ".join(parts) + ". How to read them: in "
        "the attached report."
    )
