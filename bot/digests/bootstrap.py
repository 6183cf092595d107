"""Cluster bootstrap for rating statistics: resample answers, not ratings.

Ratings of one answer are not independent (the same text, often the same thread), so the unit of
resampling is the answer. A replicate draws as many answers as the period has, uniformly with replacement,
and recomputes every statistic from that one draw: the period's overall fit, the fit of each group (scope
version, language, channel, setting, day), and differences between groups. Statistics are ratios over
ratings (sum over the drawn answers' ratings / number of their ratings). Intervals are percentile intervals
(where every replicate is alike, estimates.py gives an exact interval at 0 or 1 and none elsewhere).

Speed without shortcuts: a replicate is a vector of draw counts per answer, so all group totals of all
replicates are one matrix product, draw counts (resamples × answers) @ design (answers × group columns),
done in chunks that bound memory (about 12 MB at a time). A group that a replicate happens not to draw at
all has no value in that replicate; such replicates are left out of that group's interval (only likely for
groups of a few answers, whose intervals are wide anyway). Each period gets its own random stream from the
seed and a stable label, so numbers are reproducible and do not depend on the order of computation.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

LEVEL = 0.95
_CHUNK_CELLS = 1_000_000  # draws per chunk: 2 (or 8) MB of indices, 4 MB of float32 counts
_SMALL_DRAWS = 2**16  # periods of up to this many answers draw 16-bit indices
_COUNT_BINS = 2**16  # draw counts made by one bincount (512 KB of counts)


def rng_for(seed: int, *labels: str) -> np.random.Generator:
    """An independent, reproducible random stream (crc32 is stable across runs, unlike hash())."""
    entropy = [seed % 2**63, *(zlib.crc32(label.encode()) for label in labels)]
    return np.random.default_rng(np.random.SeedSequence(entropy))


@dataclass(frozen=True, slots=True)
class Clusters:
    """Per-answer totals: ratings per answer (each >= 1) and one row of sums per statistic.

    Statistic s of a set of answers is sums[s].sum() / counts.sum() over those answers.
    """

    counts: FloatArray
    sums: FloatArray  # (statistics, answers)

    @property
    def size(self) -> int:
        return int(self.counts.size)

    @property
    def table(self) -> FloatArray:
        """(answers, 1 + statistics): the count, then the sums."""
        result: FloatArray = np.vstack([self.counts, self.sums]).T
        return result


@dataclass(frozen=True, slots=True)
class Grouping:
    """A partition of the answers: codes[i] in 0..groups-1, or -1 for an answer in no group."""

    codes: IntArray
    groups: int


def whole(size: int) -> Grouping:
    """Every answer in one group (the overall statistic)."""
    return Grouping(np.zeros(size, dtype=np.int64), 1)


def group_totals(clusters: Clusters, grouping: Grouping) -> FloatArray:
    """Point totals, shape (groups, 1 + statistics)."""
    table = clusters.table
    totals = np.zeros((grouping.groups, table.shape[1]))
    member = grouping.codes >= 0
    np.add.at(totals, grouping.codes[member], table[member])
    return totals


def grouped_replicates(
    clusters: Clusters,
    groupings: Sequence[Grouping],
    resamples: int,
    rng: np.random.Generator,
    *,
    extra: FloatArray | None = None,
) -> list[FloatArray]:
    """Bootstrap totals for every group of every grouping from shared resamples of the answers.

    Returns one array per grouping, shape (groups, 1 + statistics, resamples): the drawn ratings count and
    the statistics' sums in each replicate. `extra` (answers, columns): more per-answer totals summed over the
    same draws (agreement's coincidences, agreement.py); their replicates come last in the list, shape
    (resamples, columns). They add columns to the draws' one matrix product, not draws.
    """
    n = clusters.size
    width = 1 + clusters.sums.shape[0]
    more = [] if extra is None else [extra.shape[1]]
    if n == 0 or resamples <= 0:
        empty = [np.zeros((grouping.groups, width, max(resamples, 0))) for grouping in groupings]
        return empty + [np.zeros((max(resamples, 0), columns)) for columns in more]
    # float32 halves the product's cost and memory and is exact here: draw counts and rating counts are small
    # integers, fit sums are multiples of 1/4 or 1/2 (3- and 5-point scales), and totals stay far below 2**24
    # steps. `extra` is not exact (coincidences are fractions like 1/3): float32 moves a replicate's alpha by less
    # than 1e-6 in a 25,000-answer period, far below the two decimals its interval is shown with
    # (tests/digests/test_alpha_interval.py).
    table = clusters.table.astype(np.float32)
    rows = np.arange(n)
    grouped_columns = sum(grouping.groups for grouping in groupings) * width
    design = np.zeros((n, grouped_columns + sum(more)), dtype=np.float32)
    if extra is not None:
        design[:, grouped_columns:] = extra
    offset = 0
    for grouping in groupings:
        member = grouping.codes >= 0
        block = design[:, offset : offset + grouping.groups * width].reshape(n, grouping.groups, width)
        block[rows[member], grouping.codes[member]] = table[member]  # a view: writes into the design
        offset += grouping.groups * width
    totals = np.empty((resamples, design.shape[1]))
    chunk = max(1, _CHUNK_CELLS // n)
    draws = np.empty((min(chunk, resamples), n), dtype=np.float32)
    # The smallest index type that holds every answer: 16-bit draws come about twice as fast as 64-bit ones
    # (a different stream from the same seed, equally uniform).
    index_type = np.uint16 if n <= _SMALL_DRAWS else np.int64
    # Draws are counted a few rows at a time, each row's picks offset into a range of its own: one bincount
    # per _COUNT_BINS answers' worth of rows (the counts stay in cache), not one per row.
    rows_per_count = max(1, _COUNT_BINS // n)
    offsets = np.arange(rows_per_count, dtype=np.intp)[:, None] * n
    for start in range(0, resamples, chunk):
        size = min(resamples, start + chunk) - start
        picks = rng.integers(0, n, size=(size, n), dtype=index_type)
        for row in range(0, size, rows_per_count):
            part = picks[row : row + rows_per_count]
            keys = (part + offsets[: part.shape[0]]).ravel()
            draws[row : row + part.shape[0]] = np.bincount(keys, minlength=part.size).reshape(part.shape)
        totals[start : start + size] = draws[:size] @ design
    result = []
    column = 0
    for grouping in groupings:
        span = grouping.groups * width
        result.append(totals[:, column : column + span].reshape(resamples, grouping.groups, width).transpose(1, 2, 0))
        column += span
    if extra is not None:
        result.append(totals[:, column:])
    return result


def ratios(totals: FloatArray) -> FloatArray:
    """Statistics from totals of shape (1 + statistics, ...): sums / count, NaN where nothing was drawn."""
    counts = totals[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        result: FloatArray = np.where(counts > 0, totals[1:] / np.where(counts > 0, counts, 1.0), np.nan)
    return result


def percentile_intervals(values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The central 95% along the last axis, NaN replicates left out, NaN where none has a value.

    Same as numpy's default ("linear") quantiles of the finite values, for many groups in one sort.
    """
    ordered = np.sort(values, axis=-1)  # NaN sort last
    finite = np.isfinite(ordered).sum(axis=-1)
    tail = (1 - LEVEL) / 2
    bounds = []
    for level in (tail, 1 - tail):
        position = np.maximum(finite - 1, 0) * level
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(finite - 1, 0))
        low = np.take_along_axis(ordered, below[..., None], axis=-1)[..., 0]
        high = np.take_along_axis(ordered, above[..., None], axis=-1)[..., 0]
        bound = low + (position - below) * (high - low)
        bounds.append(np.where(finite > 0, bound, np.nan))
    return bounds[0], bounds[1]


def percentile_interval(values: FloatArray) -> tuple[float, float] | None:
    """The central 95% of the replicates that have a value, or None when none has."""
    if values.size == 0:
        return None
    low, high = percentile_intervals(values)
    if not np.isfinite(low):
        return None
    return float(low), float(high)
