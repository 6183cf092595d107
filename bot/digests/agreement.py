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

Its interval comes from the digest's cluster bootstrap (bootstrap.py): each unit's share of the coincidences
(`unit_coincidences`) is resampled with the same draws of answers as the fit statistics, and `alpha_of` gives the
alpha of every replicate's coincidence matrix at once.
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


def unit_coincidences(value_counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each unit's coincidences, (units, categories, categories), from a units × categories matrix of value counts:
    (n_uc * n_uk - [c == k] * n_uc) / (m_u - 1); zero for a unit with fewer than 2 values. They add up to o_ck."""
    per_unit = value_counts.sum(axis=1)
    pairable = per_unit >= 2
    weights = np.where(pairable, 1.0 / np.where(pairable, per_unit - 1.0, 1.0), 0.0)
    outer = value_counts[:, :, None] * value_counts[:, None, :]
    index = np.arange(value_counts.shape[1])
    outer[:, index, index] -= value_counts
    result: NDArray[np.float64] = outer * weights[:, None, None]
    return result


def coincidence_matrix(value_counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """o_ck from a units × categories matrix of value counts; units with fewer than 2 values drop out."""
    result: NDArray[np.float64] = unit_coincidences(value_counts).sum(axis=0)
    return result


def delta_squared(
    metric: Metric, categories: NDArray[np.float64], marginals: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The metric's squared differences between every pair of categories (sorted ascending): (k, k), or
    (..., k, k) for ordinal with marginals of shape (..., k) (one matrix per set of marginals)."""
    k = categories.size
    if metric == "nominal":
        return 1.0 - np.eye(k)
    if metric == "interval":
        diff = categories[:, None] - categories[None, :]
        result: NDArray[np.float64] = diff * diff
        return result
    # Ordinal: sum of the marginals from the lower to the upper category, minus half of both ends.
    cumulative = np.cumsum(marginals, axis=-1)
    index = np.arange(k)
    low = np.minimum(index[:, None], index[None, :])
    high = np.maximum(index[:, None], index[None, :])
    span = (
        cumulative[..., high]
        - cumulative[..., low]
        + marginals[..., low]
        - (marginals[..., low] + marginals[..., high]) / 2.0
    )
    ordinal: NDArray[np.float64] = span * span
    return ordinal


def alpha_of(
    coincidences: NDArray[np.float64], categories: NDArray[np.float64], metric: Metric = "ordinal"
) -> NDArray[np.float64]:
    """Alpha of coincidence matrices of shape (..., k, k) over `categories` (k, ascending); NaN where alpha is
    undefined: fewer than two pairable values, or no expected disagreement (every pairable value alike)."""
    marginals = coincidences.sum(axis=-1)
    n = marginals.sum(axis=-1)
    delta = delta_squared(metric, categories, marginals)
    observed = (coincidences * delta).sum(axis=(-2, -1))
    expected = (marginals[..., :, None] * marginals[..., None, :] * delta).sum(axis=(-2, -1))
    defined = (n >= 2) & (expected > 0)
    result: NDArray[np.float64] = np.where(
        defined, 1.0 - (n - 1.0) * observed / np.where(defined, expected, 1.0), np.nan
    )
    return result


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
    n = round(float(coincidences.sum()))
    alpha = float(alpha_of(coincidences, categories.astype(np.float64), metric))
    return AlphaResult(None if np.isnan(alpha) else alpha, pairable_units, n)
