"""Cluster bootstrap for rating statistics: resample answers, not ratings.

Ratings of one answer are not independent (the same text, often the same thread), so the unit of
resampling is the answer: a replicate draws as many answers as there are, with replacement, and recomputes
the ratio statistic (sum over the drawn answers' ratings / number of their ratings). Percentile intervals.

Speed without shortcuts: a ratio statistic only depends on how often each distinct answer *type* (its
number of ratings and its sums) was drawn, and those counts are exactly Multinomial(n, type frequencies).
When answers share few types (the usual case: a handful of ratings on a 3- or 5-point scale), a replicate
costs one multinomial draw over the types instead of n index draws. Otherwise answers are drawn by index, in
chunks that bound memory. Both are the same resampling distribution; every estimate gets its own random
stream derived from the seed and a stable label, so results do not depend on which other groups exist.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

LEVEL = 0.95
_CHUNK_CELLS = 1_000_000  # index draws per chunk when resampling by index (8 MB of int64)


def rng_for(seed: int, *labels: str) -> np.random.Generator:
    """An independent, reproducible random stream for one estimate (crc32 is stable across runs)."""
    entropy = [seed % 2**63, *(zlib.crc32(label.encode()) for label in labels)]
    return np.random.default_rng(np.random.SeedSequence(entropy))


@dataclass(frozen=True, slots=True)
class Clusters:
    """Per-answer totals for the answers in one group: ratings per answer (each >= 1) and statistic sums.

    `sums` has one row per statistic; statistic s of the group is sums[s].sum() / counts.sum().
    """

    counts: FloatArray
    sums: FloatArray

    @property
    def size(self) -> int:
        return int(self.counts.size)

    def estimates(self) -> FloatArray:
        total = float(self.counts.sum())
        if total == 0:
            return np.full(self.sums.shape[0], np.nan)
        result: FloatArray = self.sums.sum(axis=1) / total
        return result


def replicates(clusters: Clusters, resamples: int, rng: np.random.Generator) -> FloatArray:
    """Bootstrap replicates of each statistic, shape (statistics, resamples)."""
    n = clusters.size
    if n == 0 or resamples <= 0:
        return np.empty((clusters.sums.shape[0], 0))
    table = np.vstack([clusters.counts, clusters.sums]).T  # (answers, 1 + statistics)
    types, frequency = np.unique(table, axis=0, return_counts=True)
    if types.shape[0] * 8 <= n:
        draws = rng.multinomial(n, frequency / n, size=resamples)
        totals = draws @ types
    else:
        totals = np.empty((resamples, table.shape[1]))
        chunk = max(1, _CHUNK_CELLS // n)
        for start in range(0, resamples, chunk):
            stop = min(resamples, start + chunk)
            index = rng.integers(0, n, size=(stop - start, n))
            for column in range(table.shape[1]):
                totals[start:stop, column] = table[:, column][index].sum(axis=1)
    result: FloatArray = totals[:, 1:].T / totals[:, 0]
    return result


def percentile_interval(values: FloatArray) -> tuple[float, float] | None:
    """The central 95% of the replicates, or None when there are none."""
    if values.size == 0:
        return None
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)
