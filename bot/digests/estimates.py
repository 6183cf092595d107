"""Estimates with intervals from one shared bootstrap per period (bootstrap.py), for any grouping of answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.digests.bootstrap import (
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
from bot.digests.model import Difference, Estimate
from bot.digests.periods import RatedPeriod


@dataclass(frozen=True, slots=True)
class Fit:
    """Mean fit and fit share of one group, with the replicates behind their intervals (for differences)."""

    mean_fit: Estimate
    fit_share: Estimate
    replicates: FloatArray  # (2, resamples); empty when there is no interval; NaN where the group was not drawn


NO_FIT = Fit(Estimate(None, None, None, 0, 0), Estimate(None, None, None, 0, 0), np.empty((2, 0)))


def _optional(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


FEW_ANSWERS_FOR_A_POINT = 20  # below this many rated answers, an interval of zero width is not shown


@dataclass(frozen=True, slots=True)
class Grouped:
    """One grouping of one period's rated answers (or of pooled periods): totals and intervals per group."""

    point: FloatArray  # (groups, 3): ratings, fit sum, top sum
    totals: FloatArray  # (groups, 3, resamples)
    answers: IntArray  # (groups,): rated answers
    replicates: FloatArray  # (groups, 2, resamples): mean fit and fit share in each replicate
    low: FloatArray  # (groups, 2)
    high: FloatArray

    @classmethod
    def of(cls, point: FloatArray, totals: FloatArray, answers: IntArray) -> Grouped:
        replicates = ratios(totals.transpose(1, 0, 2)).transpose(1, 0, 2)
        low, high = percentile_intervals(replicates)  # every group in one sort
        return cls(point, totals, answers, replicates, low, high)

    @classmethod
    def pooled(cls, parts: Sequence[Grouped]) -> Grouped:
        """Periods pooled as strata: each was resampled on its own, and replicates add up."""
        return cls.of(
            np.sum([part.point for part in parts], axis=0),
            np.sum([part.totals for part in parts], axis=0),
            np.sum([part.answers for part in parts], axis=0),
        )

    def fit(self, group: int) -> Fit:
        point = self.point[group]
        if point[0] == 0:
            return NO_FIT
        ratings = round(float(point[0]))
        answers = int(self.answers[group])
        estimates = []
        for statistic in range(2):
            value = float(point[1 + statistic] / point[0])
            # One rated answer has no sampling variation to resample: no interval rather than a fake one. Nor a
            # few answers rated alike: every replicate is the same, and "100% (95% CI 100–100%)" claims certainty
            # that two answers cannot give.
            low = _optional(self.low[group, statistic]) if answers >= 2 else None
            high = _optional(self.high[group, statistic]) if answers >= 2 else None
            if low is not None and low == high and answers < FEW_ANSWERS_FOR_A_POINT:
                low = high = None
            estimates.append(Estimate(value, low, high, answers, ratings))
        return Fit(estimates[0], estimates[1], self.replicates[group] if answers >= 2 else np.empty((2, 0)))


def grouped(
    period: RatedPeriod, groupings: Sequence[Grouping], *, seed: int, resamples: int, label: str
) -> list[Grouped]:
    """Every grouping's fits from one bootstrap of the period's answers (label: the period's random stream)."""
    clusters = period.clusters()
    all_totals = grouped_replicates(clusters, groupings, resamples, rng_for(seed, label))
    result = []
    for grouping, totals in zip(groupings, all_totals, strict=True):
        answers = np.bincount(grouping.codes[grouping.codes >= 0], minlength=grouping.groups).astype(np.int64)
        result.append(Grouped.of(group_totals(clusters, grouping), totals, answers))
    return result


def difference(a: Fit, b: Fit, statistic: int, a_label: str, b_label: str) -> Difference:
    """b - a for mean fit (statistic 0) or fit share (1); replicates paired as the bootstraps were drawn."""
    a_estimate = a.mean_fit if statistic == 0 else a.fit_share
    b_estimate = b.mean_fit if statistic == 0 else b.fit_share
    if a_estimate.value is None or b_estimate.value is None:
        return Difference(a_label, b_label, None, None, None)
    value = b_estimate.value - a_estimate.value
    if a.replicates.shape[1] == 0 or b.replicates.shape[1] == 0:
        return Difference(a_label, b_label, value, None, None)
    interval = percentile_interval(b.replicates[statistic] - a.replicates[statistic])
    low, high = interval if interval is not None else (None, None)
    return Difference(a_label, b_label, value, low, high)
