"""A randomized comparison whose difference has no interval says why, naming the arm: never "too few members"
where that is not the reason."""

from __future__ import annotations

import numpy as np

from bot.digests.estimates import Fit
from bot.digests.model import Difference, Estimate
from bot.digests.randomized import _Arm, _note
from bot.digests.stats import compute_digest
from tests.digests.test_comparisons import in_arm
from tests.digests.test_stats import rating, rows

SPREAD = [1, 2, 3, 3, 2, 1]  # 3-point values with spread across members


def comparison_of(current: list[tuple[str, int]], alternative: list[tuple[str, int]]):
    """Comparison 3: one answer per (asking member, value) pair in each arm, each rated once by `rater`."""
    answers = [in_arm(i, "3:current", 1, asker) for i, (asker, _) in enumerate(current)]
    answers += [in_arm(100 + i, "3:alternative", 2, asker) for i, (asker, _) in enumerate(alternative)]
    ratings = [rating(i, "rater", value) for i, (_, value) in enumerate(current)]
    ratings += [rating(100 + i, "rater", value) for i, (_, value) in enumerate(alternative)]
    [comparison] = compute_digest(rows(answers, ratings), None, seed=1).comparisons
    return comparison


def test_one_asking_member_in_one_arm_is_named_as_the_reason():
    comparison = comparison_of(
        [(f"c{i}", value) for i, value in enumerate(SPREAD)], [("only", value) for value in SPREAD]
    )
    assert comparison.current.mean_fit.interval == "bootstrap"
    assert comparison.alternative.mean_fit.interval == "one_member"
    assert comparison.mean_fit_change.interval == "one_member"
    assert comparison.note == (
        "Comparison #3: the difference has no interval: the alternative version (v2) has rated answers from one "
        "asking member only, who cannot be resampled. Rated answers from this period."
    )


def test_one_member_on_one_side_and_no_spread_on_the_other_names_both():
    """Before, the note named only the spread while the difference's interval named the single member."""
    comparison = comparison_of([("only", value) for value in SPREAD], [(f"a{i}", 2) for i in range(6)])
    assert comparison.current.mean_fit.interval == "one_member"
    assert comparison.alternative.mean_fit.interval == "no_spread"
    assert comparison.note == (
        "Comparison #3: the difference has no interval: the current version (v1) has rated answers from one asking "
        "member only, who cannot be resampled; and every resample of the members under the alternative version (v2) "
        "gives the same mean fit, so its uncertainty is not measured. Rated answers from this period."
    )


def test_no_spread_in_the_alternative_arm_is_named():
    comparison = comparison_of([(f"c{i}", value) for i, value in enumerate(SPREAD)], [(f"a{i}", 2) for i in range(6)])
    assert comparison.note == (
        "Comparison #3: the difference has no interval: every resample of the members under the alternative "
        "version (v2) gives the same mean fit, so its uncertainty is not measured. Rated answers from this period."
    )
    assert "too few members" not in comparison.note


def test_an_interval_missing_for_no_reason_of_either_arm_says_what_happened():
    """Both arms with intervals, yet none for the difference (no resample gave it a value): not "too few members"."""
    banded = Estimate(0.5, 0.3, 0.7, 6, 6)
    arm = _Arm(Fit(banded, banded, np.full((2, 10), np.nan)), 6, 6)
    change = Difference("current version (v1)", "alternative version (v2)", 0.1, None, None)
    assert _note(3, change, arm, arm, "this period") == (
        "Comparison #3: the difference has no interval: no resample of the members gave it a value. Rated answers "
        "from this period."
    )
