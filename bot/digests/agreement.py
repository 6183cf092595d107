"""Agreement across raters: Krippendorff's alpha from a coincidence matrix.

Follows Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability" (Annenberg School papers 43):

* values are pairable within a unit (here: an answer) when the unit has m_u >= 2 values;
* coincidences o_ck = sum over units of (n_uc * n_uk - [c == k] * n_uc) / (m_u - 1), where n_uc is how many
  of the unit's values are c; the marginals n_c = sum_k o_ck, n = sum_c n_c (the pairable values);
* metric differences delta²: nominal [c != k]; interval (c - k)²; ordinal
  (sum_{g=c..k} n_g - (n_c + n_k) / 2)², built from the marginal frequencies, so only the order of the
  categories matters;
* alpha = 1 - (n - 1) * sum o_ck delta²_ck / sum n_c n_k delta²_ck.

Alpha is undefined (None) when fewer than two values are pairable or all pairable values are equal (no
expected disagreement).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Metric = Literal["nominal", "ordinal", "interval"]


@dataclass(frozen=True, slots=True)
class AlphaResult:
    alpha: float | None
    units: int  # pairable units (>= 2 values)
    values: int  # pairable values


def coincidence_matrix(value_counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """o_ck from a units × categories matrix of value counts; units with fewer than 2 values drop out."""
    per_unit = value_counts.sum(axis=1)
    pairable = value_counts[per_unit >= 2]
    weights = 1.0 / (pairable.sum(axis=1) - 1.0)
    weighted = pairable * weights[:, None]
    result: NDArray[np.float64] = weighted.T @ pairable - np.diag(weighted.sum(axis=0))
    return result


def delta_squared(
    metric: Metric, categories: NDArray[np.float64], marginals: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The metric's squared differences between every pair of categories (sorted ascending)."""
    k = categories.size
    if metric == "nominal":
        return 1.0 - np.eye(k)
    if metric == "interval":
        diff = categories[:, None] - categories[None, :]
        result: NDArray[np.float64] = diff * diff
        return result
    # Ordinal: sum of the marginals from the lower to the upper category, minus half of both ends.
    cumulative = np.cumsum(marginals)
    index = np.arange(k)
    low = np.minimum(index[:, None], index[None, :])
    high = np.maximum(index[:, None], index[None, :])
    span = cumulative[high] - cumulative[low] + marginals[low] - (marginals[low] + marginals[high]) / 2.0
    ordinal: NDArray[np.float64] = span * span
    return ordinal


def krippendorff_alpha(
    units: NDArray[np.int64], values: NDArray[np.float64], metric: Metric = "ordinal"
) -> AlphaResult:
    """Alpha for values given as parallel arrays (unit index, value); missing values are simply absent.

    Each unit's values are one per rater (a rater rating a unit twice must be deduplicated by the caller).
    """
    if units.size == 0:
        return AlphaResult(None, 0, 0)
    categories, category_index = np.unique(values, return_inverse=True)
    unit_ids, unit_index = np.unique(units, return_inverse=True)
    counts = np.zeros((unit_ids.size, categories.size))
    np.add.at(counts, (unit_index, category_index), 1.0)
    pairable_units = int(np.count_nonzero(counts.sum(axis=1) >= 2))
    if pairable_units == 0:
        return AlphaResult(None, 0, 0)
    coincidences = coincidence_matrix(counts)
    marginals = coincidences.sum(axis=1)
    n = float(marginals.sum())
    delta = delta_squared(metric, categories.astype(np.float64), marginals)
    observed = float((coincidences * delta).sum())
    expected = float((np.outer(marginals, marginals) * delta).sum())
    if n < 2 or expected == 0.0:
        return AlphaResult(None, pairable_units, round(n))
    return AlphaResult(1.0 - (n - 1.0) * observed / expected, pairable_units, round(n))
