"""Estimates with intervals from one shared bootstrap per period (bootstrap.py), for any grouping of answers.

Where every resample gives the same value (zero spread), a percentile interval has zero width and would claim
certainty that no sample gives; `estimate` decides what such a statistic gets instead:

- At 0 or 1 (no rating at the top, every rating at the top, every rating at the bottom): the exact
  (Clopper-Pearson) 95% interval for 0 or n of n, with n the resampling units (rated answers; asking members in
  randomized comparisons): [0, 1 - 0.025^(1/n)] at 0, [0.025^(1/n), 1] at 1. Its open side is the one-sided
  97.5% bound; the closed side is the bound of the scale, which the estimate cannot pass.
  Why n units, not the ratings: the statistics are ratios over clustered ratings. With one rating per answer
  the fit share is a binomial proportion over the n answers the bootstrap treats as independent, and the
  interval is exact. With several ratings per answer, the usual interval for a clustered proportion is
  Clopper-Pearson with an effective sample size, ratings / design effect (Korn & Graubard 1998); the design
  effect is at most the ratings per answer (ratings of one answer in full agreement), so n answers is the
  smallest effective sample size and the interval the widest of those (with unequal ratings per answer an
  approximation, as the bootstrap is). Mean fit at 1 has every rating at the top, and mean fit is at least the
  share of ratings at the top, so the share's interval holds for it; at 0 every rating is at the bottom, and
  mean fit is at most the share of ratings above the bottom, whose interval is the same.
- Between 0 and 1 (every answer's ratings average the same, e.g. all "Partly fits"): no interval. Nothing
  bounds the spread there without assuming it, and 0.50 (95% CI 0.50-0.50) would claim certainty.

One resampling unit (one rated answer) has no interval either: `Estimate.interval` is ONE_ANSWER, so that the
reports and digest.json say why; nor have two to four (FEW_ANSWERS), whose resamples take a handful of values (two
answers give three), but for the exact interval at 0 or 1, which holds for any number. A difference with an exact
side has no replicates to pair that carry the side's
uncertainty, so its interval combines the sides' intervals (`difference`); a side without an interval leaves the
difference without one, and its `interval` names the side's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.digests.bootstrap import (
    LEVEL,
    FloatArray,
    Grouping,
    IntArray,
    group_totals,
    grouped_replicates,
    percentile_interval,
    percentile_intervals,
    ratios,
    rng_for,
)
from bot.digests.model import (
    BOOTSTRAP,
    COMBINED,
    EXACT,
    FEW_ANSWERS,
    NO_SPREAD,
    ONE_ANSWER,
    WITHOUT_INTERVAL,
    Difference,
    Estimate,
)
from bot.digests.periods import RatedPeriod

BoolArray = NDArray[np.bool_]

# The fewest units (rated answers, or asking members) a percentile interval is given from: with fewer, the resamples
# take a handful of values (two answers: three) and the interval reads far more precise than it is.
MIN_BOOTSTRAP_UNITS = 5


@dataclass(frozen=True, slots=True)
class Fit:
    """Mean fit and fit share of one group, with the replicates behind their intervals (for differences)."""

    mean_fit: Estimate
    fit_share: Estimate
    replicates: FloatArray  # (2, resamples); empty when there is no interval; NaN where the group was not drawn
    scales: tuple[int, ...] = ()  # the scale sizes the group's ratings were given on, ascending


NO_FIT = Fit(Estimate(None, None, None, 0, 0), Estimate(None, None, None, 0, 0), np.empty((2, 0)))


def _optional(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


_TAIL = round((1 - LEVEL) / 2, 12)  # 0.025, without 1 - 0.95's float error


def exact_interval(value: float, units: int) -> tuple[float, float]:
    """The Clopper-Pearson 95% interval of a proportion observed at 0 (0 of `units`) or 1 (all of them)."""
    edge = float(_TAIL ** (1 / units))
    return (0.0, 1.0 - edge) if value == 0 else (edge, 1.0)


def zero_spread(replicates: FloatArray) -> BoolArray:
    """Along the last axis: whether the replicates with a value (not NaN) all have the same one."""
    finite = np.isfinite(replicates)
    low = np.where(finite, replicates, np.inf).min(axis=-1)
    high = np.where(finite, replicates, -np.inf).max(axis=-1)
    result: BoolArray = finite.any(axis=-1) & (low == high)
    return result


def estimate(
    value: float,
    low: float | None,
    high: float | None,
    alike: bool,
    units: int,
    answers: int,
    ratings: int,
    *,
    few: str = FEW_ANSWERS,
) -> Estimate:
    """A statistic's estimate from its percentile interval (`low`, `high`), or, when every replicate is alike
    (`alike`), the exact interval at 0 or 1 and none elsewhere (see the module's docstring). `units`: what was
    resampled (rated answers, or asking members); `answers`: rated answers. One unit: no interval, ONE_ANSWER (a
    caller resampling members gives one member ONE_MEMBER itself); fewer than MIN_BOOTSTRAP_UNITS: none either,
    `few` (FEW_ANSWERS, or FEW_ARM_MEMBERS from a caller resampling members), but for the exact interval at 0 or 1,
    which holds for any number of units."""
    if units < 2:
        return Estimate(value, None, None, answers, ratings, ONE_ANSWER)
    if low is None or high is None:
        return Estimate(value, None, None, answers, ratings)
    if value in (0.0, 1.0):  # every rating at a bound, so every replicate too (whatever the resamples' number)
        return Estimate(value, *exact_interval(value, units), answers, ratings, EXACT)
    if alike:
        return Estimate(value, None, None, answers, ratings, NO_SPREAD)
    if units < MIN_BOOTSTRAP_UNITS:
        return Estimate(value, None, None, answers, ratings, few)
    return Estimate(value, low, high, answers, ratings)


@dataclass(frozen=True, slots=True)
class Grouped:
    """One grouping of one period's rated answers (or of pooled periods): totals and intervals per group."""

    point: FloatArray  # (groups, 3): ratings, fit sum, top sum
    totals: FloatArray  # (groups, 3, resamples)
    answers: IntArray  # (groups,): rated answers
    replicates: FloatArray  # (groups, 2, resamples): mean fit and fit share in each replicate
    low: FloatArray  # (groups, 2)
    high: FloatArray
    alike: BoolArray  # (groups, 2): every replicate with a value has the same one
    # (groups, largest scale size + 1): each group's ratings per scale size (column 3: on the 3-point scale)
    scale_ratings: IntArray

    @classmethod
    def of(
        cls, point: FloatArray, totals: FloatArray, answers: IntArray, scale_ratings: IntArray | None = None
    ) -> Grouped:
        replicates = ratios(totals.transpose(1, 0, 2)).transpose(1, 0, 2)
        low, high = percentile_intervals(replicates)  # every group in one sort
        if scale_ratings is None:
            scale_ratings = np.zeros((answers.size, 0), dtype=np.int64)
        return cls(point, totals, answers, replicates, low, high, zero_spread(replicates), scale_ratings)

    @classmethod
    def pooled(cls, parts: Sequence[Grouped]) -> Grouped:
        """Periods pooled as strata: each was resampled on its own, and replicates add up."""
        return cls.of(
            np.sum([part.point for part in parts], axis=0),
            np.sum([part.totals for part in parts], axis=0),
            np.sum([part.answers for part in parts], axis=0),
            pooled_scale_ratings(parts),
        )

    def fit(self, group: int) -> Fit:
        point = self.point[group]
        if point[0] == 0:
            return NO_FIT
        ratings = round(float(point[0]))
        answers = int(self.answers[group])
        estimates = [
            # One rated answer has no sampling variation to resample: no interval rather than a fake one. Every
            # replicate alike: an exact interval at 0 or 1, none elsewhere (the module's docstring).
            estimate(
                float(point[1 + statistic] / point[0]),
                _optional(self.low[group, statistic]),
                _optional(self.high[group, statistic]),
                bool(self.alike[group, statistic]),
                answers,
                answers,
                ratings,
            )
            for statistic in range(2)
        ]
        scales = tuple(np.flatnonzero(self.scale_ratings[group]).tolist())
        return Fit(estimates[0], estimates[1], self.replicates[group] if answers >= 2 else np.empty((2, 0)), scales)


def pooled_scale_ratings(parts: Sequence[Grouped]) -> IntArray:
    """The groups' ratings per scale size, added up over the parts (periods; a part without the larger scales has
    no columns for them)."""
    if not parts:
        return np.zeros((0, 0), dtype=np.int64)
    width = max(part.scale_ratings.shape[1] for part in parts)
    total: IntArray = np.sum(
        [np.pad(part.scale_ratings, ((0, 0), (0, width - part.scale_ratings.shape[1]))) for part in parts], axis=0
    )
    return total


@dataclass(frozen=True, slots=True)
class AnswerScales:
    """Each rated answer's ratings per scale size in use: `counts[i]` are the ratings on scale `sizes[i]`."""

    sizes: tuple[int, ...]
    counts: tuple[FloatArray, ...]  # one per size, (rated answers,)
    width: int  # the largest scale size + 1

    @classmethod
    def of(cls, period: RatedPeriod) -> AnswerScales:
        """One pass over the ratings per scale size in use (two at most, in practice)."""
        sizes = tuple(np.flatnonzero(np.bincount(period.scale)).tolist()) if period.scale.size else ()
        counts = tuple(
            np.bincount(period.rating_index[period.scale == size], minlength=period.answer_ids.size).astype(np.float64)
            for size in sizes
        )
        return cls(sizes, counts, sizes[-1] + 1 if sizes else 0)

    def by_group(self, grouping: Grouping) -> IntArray:
        """(groups, width): each group's ratings per scale size, one bincount over the rated answers per size."""
        result = np.zeros((grouping.groups, self.width), dtype=np.int64)
        codes = np.where(grouping.codes >= 0, grouping.codes, grouping.groups)  # the ungrouped in one more bin
        for size, counts in zip(self.sizes, self.counts, strict=True):
            result[:, size] = np.bincount(codes, weights=counts, minlength=grouping.groups + 1)[: grouping.groups]
        return result


def grouped(
    period: RatedPeriod, groupings: Sequence[Grouping], *, seed: int, resamples: int, label: str
) -> list[Grouped]:
    """Every grouping's fits from one bootstrap of the period's answers (label: the period's random stream)."""
    return grouped_and_extra(period, groupings, None, seed=seed, resamples=resamples, label=label)[0]


def grouped_and_extra(
    period: RatedPeriod,
    groupings: Sequence[Grouping],
    extra: FloatArray | None,
    *,
    seed: int,
    resamples: int,
    label: str,
) -> tuple[list[Grouped], FloatArray]:
    """`grouped`, and the replicates of `extra`'s per-answer totals (rated answers × columns) from the same draws:
    (resamples, columns), no columns without `extra`."""
    clusters = period.clusters()
    all_totals = grouped_replicates(clusters, groupings, resamples, rng_for(seed, label), extra=extra)
    scales = AnswerScales.of(period)
    result = []
    for grouping, totals in zip(groupings, all_totals[: len(groupings)], strict=True):  # `extra`'s come last
        answers = np.bincount(grouping.codes[grouping.codes >= 0], minlength=grouping.groups).astype(np.int64)
        result.append(Grouped.of(group_totals(clusters, grouping), totals, answers, scales.by_group(grouping)))
    return result, all_totals[-1] if extra is not None else np.zeros((resamples, 0))


def difference(a: Fit, b: Fit, statistic: int, a_label: str, b_label: str) -> Difference:
    """b - a for mean fit (statistic 0) or fit share (1).

    Both sides with bootstrap intervals: the percentile interval of the replicates' differences, paired as the
    bootstraps were drawn. A side with an exact interval (every replicate the same 0 or 1) adds nothing to the
    replicates' spread, which would leave its uncertainty out (two such sides: "0 (95% CI 0 to 0)"); the sides'
    intervals are then combined by the method of variance estimates recovery (MOVER; Newcombe 1998, Zou & Donner
    2008), which treats the sides as independent: periods and randomized arms are resampled on their own, and
    groups of one period are disjoint sets of answers. A side without an interval (one rated answer, or every
    replicate the same value between 0 and 1) leaves the difference without one, its `interval` naming the
    side's reason (one rated answer first: it is the plainer one).
    """
    a_estimate = a.mean_fit if statistic == 0 else a.fit_share
    b_estimate = b.mean_fit if statistic == 0 else b.fit_share
    if a_estimate.value is None or b_estimate.value is None:
        return Difference(a_label, b_label, None, None, None)
    value = b_estimate.value - a_estimate.value
    if a_estimate.low is None or a_estimate.high is None or b_estimate.low is None or b_estimate.high is None:
        reasons = {a_estimate.interval, b_estimate.interval}
        why = next((reason for reason in WITHOUT_INTERVAL if reason in reasons), BOOTSTRAP)
        return Difference(a_label, b_label, value, None, None, why)
    if a_estimate.interval == BOOTSTRAP and b_estimate.interval == BOOTSTRAP:
        interval = percentile_interval(b.replicates[statistic] - a.replicates[statistic])
        low, high = interval if interval is not None else (None, None)
        return Difference(a_label, b_label, value, low, high)
    low, high = combined_interval(
        (a_estimate.value, a_estimate.low, a_estimate.high), (b_estimate.value, b_estimate.low, b_estimate.high)
    )
    return Difference(a_label, b_label, value, low, high, COMBINED)


def combined_interval(a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[float, float]:
    """MOVER's interval of b - a from each side's (value, low, high) 95% interval (Zou & Donner 2008, eq. 5): each
    end moves from the difference by the root of the sum of squares of the sides' distances to their bounds in
    that direction."""
    (a_value, a_low, a_high), (b_value, b_low, b_high) = a, b
    value = b_value - a_value
    low = value - float(np.hypot(b_value - b_low, a_high - a_value))
    high = value + float(np.hypot(b_high - b_value, a_value - a_low))
    return low, high
