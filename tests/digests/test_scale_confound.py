"""A scope version (or a randomized arm) rated on another scale than the one it is compared with: the difference is
a hint, not a finding, and the fit share's (the tops of two scales are different thresholds) is not given. And
interval bounds that never show as 0 when the note reads them as off zero."""

from __future__ import annotations

import json

import pytest

from bot.digests.formatting import fit_change, share_change
from bot.digests.groups import lead_sentence
from bot.digests.model import Difference
from bot.digests.report import render_json, render_markdown
from bot.digests.stats import compute_digest
from tests.digests.test_comparisons import in_arm
from tests.digests.test_stats import answer, rating, rows

SWITCH = (
    "v1 and v2 were rated on different scales (v1 on the 3-point scale, v2 on the 5-point scale): read the "
    "difference as a hint, not a finding."
)


def v1_on_3_points(previous: bool = False):
    """Answers 1-40 under v1, each rated twice on the 3-point scale: odd answers 3/3 and 3/3, even ones 3/3 and
    2/3. Fits 1, 1 and 1, 0.5: mean fit (40 + 30) / 80 = 0.875; at the top 60 of 80 = 0.75."""
    day = 10 if previous else 16
    answers = [answer(i, version=1, day=day) for i in range(1, 41)]
    ratings = [rating(i, "m0", 3, 3, day=day + 1) for i in range(1, 41)]
    ratings += [rating(i, "m1", 3 if i % 2 else 2, 3, day=day + 1) for i in range(1, 41)]
    return answers, ratings


def v2_on_5_points(scale: int = 5):
    """Answers 41-80 under v2, each rated twice on the 5-point scale: odd answers 4/5 and 4/5, even ones 4/5 and
    5/5. Fits 0.75, 0.75 and 0.75, 1: mean fit (30 + 35) / 80 = 0.8125; at the top 20 of 80 = 0.25."""
    answers = [answer(i, version=2, day=20) for i in range(41, 81)]
    ratings = [rating(i, "m0", 4, scale, day=21) for i in range(41, 81)]
    ratings += [rating(i, "m1", 4 if i % 2 else 5, scale, day=21) for i in range(41, 81)]
    return answers, ratings


def test_a_version_rated_on_another_scale_is_a_hint_and_its_fit_share_change_is_not_given():
    a1, r1 = v1_on_3_points()
    a2, r2 = v2_on_5_points()
    digest = compute_digest(rows(a1 + a2, r1 + r2), None)

    versions = digest.versions
    assert (versions.prior, versions.latest) == ("v1", "v2")
    assert (versions.prior_scales, versions.latest_scales, versions.scales_differ) == ((3,), (5,), True)
    v1, v2 = versions.versions
    assert v1.mean_fit.value == pytest.approx(0.875)
    assert v1.fit_share.value == pytest.approx(0.75)
    assert v2.mean_fit.value == pytest.approx(0.8125)
    assert v2.fit_share.value == pytest.approx(0.25)
    assert versions.mean_fit_change is not None
    assert versions.mean_fit_change.value == pytest.approx(-0.0625)
    # 0.25 - 0.75 = -50 points, all of it the switch from the top of a 3-point scale to that of a 5-point one.
    assert versions.fit_share_change is None
    assert versions.note.startswith(SWITCH)
    assert "; the interval excludes no change" not in versions.note  # no firm finding
    assert "observational comparison" in versions.note

    report = render_markdown(digest)
    assert "fit share not compared, the two were rated on different scales (v1: 3-point; v2: 5-point)" in report
    assert "−50 pts" not in report
    assert SWITCH in report
    assert "rated on different scales, so a hint, not a finding" in report  # the summary's line
    plain = json.loads(render_json(digest))["versions"]
    assert plain["scales_differ"] is True
    assert (plain["prior_scales"], plain["latest_scales"]) == ([3], [5])
    assert plain["fit_share_change"] is None


def test_a_scale_switch_across_periods_is_caught_too():
    """v1 only in the previous period, on the 3-point scale; v2 this period on the 5-point one."""
    a1, r1 = v1_on_3_points(previous=True)
    a2, r2 = v2_on_5_points()
    digest = compute_digest(rows(a2, r2), rows(a1, r1, previous=True))

    versions = digest.versions
    assert versions.window == "this and the previous period"
    assert (versions.prior_scales, versions.latest_scales, versions.scales_differ) == ((3,), (5,), True)
    assert versions.fit_share_change is None
    assert versions.note.startswith(SWITCH)


def test_a_version_mixing_scales_is_a_hint():
    """v2's answers 41-60 rated on the 3-point scale, 61-80 on the 5-point scale."""
    a1, r1 = v1_on_3_points()
    a2, _ = v2_on_5_points()
    r2 = [rating(i, f"m{j}", 3, 3, day=21) for i in range(41, 61) for j in range(2)]
    r2 += [rating(i, f"m{j}", 5, 5, day=21) for i in range(61, 81) for j in range(2)]
    digest = compute_digest(rows(a1 + a2, r1 + r2), None)

    versions = digest.versions
    assert (versions.prior_scales, versions.latest_scales, versions.scales_differ) == ((3,), (3, 5), True)
    assert versions.fit_share_change is None
    assert versions.note.startswith(
        "v1 and v2 were rated on different scales (v1 on the 3-point scale, v2 on the 3- and 5-point scales): "
        "read the difference as a hint, not a finding."
    )


def test_versions_each_mixing_the_same_scales_are_a_hint():
    """v1's answers 1-20 rated 3/3 twice, 21-40 5/5 twice; v2's 41-60 3/3 twice, 61-80 4/5 twice."""
    a1, _ = v1_on_3_points()
    a2, _ = v2_on_5_points()
    ratings = [rating(i, f"m{j}", 3, 3) for i in range(1, 21) for j in range(2)]
    ratings += [rating(i, f"m{j}", 5, 5) for i in range(21, 41) for j in range(2)]
    ratings += [rating(i, f"m{j}", 3, 3, day=21) for i in range(41, 61) for j in range(2)]
    ratings += [rating(i, f"m{j}", 4, 5, day=21) for i in range(61, 81) for j in range(2)]
    digest = compute_digest(rows(a1 + a2, ratings), None)

    versions = digest.versions
    assert (versions.prior_scales, versions.latest_scales, versions.scales_differ) == ((3, 5), (3, 5), True)
    assert versions.fit_share_change is None
    assert versions.note.startswith(
        "v1 and v2 were each rated on a mix of scales (the 3- and 5-point scales, in proportions that can differ): "
        "read the difference as a hint, not a finding."
    )
    assert (
        "fit share not compared, the two were each rated on a mix of scales (v1: 3- and 5-point; v2: 3- and "
        "5-point)" in render_markdown(digest)
    )


def test_versions_on_one_scale_keep_their_fit_share_change_and_firm_note():
    """Both versions on the 5-point scale: v1's answers rated 5/5 and 5/5 (odd) or 5/5 and 4/5 (even), fits 1, 1
    and 1, 0.75: mean fit (40 + 35) / 80 = 0.9375, at the top 60 of 80 = 0.75; v2 as in `v2_on_5_points`."""
    a1, _ = v1_on_3_points()
    r1 = [rating(i, "m0", 5, 5) for i in range(1, 41)] + [rating(i, "m1", 5 if i % 2 else 4, 5) for i in range(1, 41)]
    a2, r2 = v2_on_5_points()
    digest = compute_digest(rows(a1 + a2, r1 + r2), None)

    versions = digest.versions
    assert (versions.prior_scales, versions.latest_scales, versions.scales_differ) == ((5,), (5,), False)
    assert versions.mean_fit_change is not None
    assert versions.mean_fit_change.value == pytest.approx(0.8125 - 0.9375)
    assert versions.fit_share_change is not None
    assert versions.fit_share_change.value == pytest.approx(0.25 - 0.75)
    assert "different scales" not in versions.note
    assert versions.note.startswith("Mean fit under v2 is lower than under v1; the interval excludes no change.")


def test_randomized_arms_on_different_scales_are_a_hint():
    """Current arm (v3), answers 1-40 on the 3-point scale: odd 3/3, even 2/3, mean fit 0.75. Alternative arm
    (v4), answers 41-80 on the 5-point scale: 4/5 except every fourth 3/5, mean fit (30 * 0.75 + 10 * 0.5) / 40
    = 0.6875. 15 asking members per arm."""
    answers = [in_arm(i, "7:current", 3, f"current-{i % 15}") for i in range(1, 41)]
    answers += [in_arm(i, "7:alternative", 4, f"alternative-{i % 15}") for i in range(41, 81)]
    ratings = [rating(i, f"rater{i % 9}", 3 if i % 2 else 2, 3) for i in range(1, 41)]
    ratings += [rating(i, f"rater{i % 9}", 3 if i % 4 == 0 else 4, 5) for i in range(41, 81)]
    digest = compute_digest(rows(answers, ratings), None, seed=1)

    [comparison] = digest.comparisons
    assert comparison.current.mean_fit.value == pytest.approx(0.75)
    assert comparison.alternative.mean_fit.value == pytest.approx(0.6875)
    assert comparison.mean_fit_change.value == pytest.approx(-0.0625)
    assert (comparison.current_scales, comparison.alternative_scales, comparison.scales_differ) == ((3,), (5,), True)
    assert comparison.fit_share_change is None
    assert comparison.note.startswith(
        "The current arm and the alternative arm were rated on different scales (the current arm on the 3-point "
        "scale, the alternative arm on the 5-point scale): read the difference as a hint, not a finding."
    )
    assert "; the interval excludes no change" not in comparison.note
    report = render_markdown(digest)
    assert (
        "fit share not compared, the two were rated on different scales (current arm: 3-point; alternative arm: "
        "5-point)" in report
    )
    plain = json.loads(render_json(digest))["comparisons"][0]
    assert plain["scales_differ"] is True
    assert (plain["current_scales"], plain["alternative_scales"], plain["fit_share_change"]) == ([3], [5], None)


# ------------------------------------------------------------------------------------ bounds near zero


def test_a_bound_just_above_zero_is_not_shown_as_zero():
    # Lower bound +0.003: the note says the interval excludes no change, so the bound must not read "0.00".
    change = Difference("v1", "v2", 0.04, 0.003, 0.08)
    assert fit_change(change) == "+0.04 (95% CI +0.003 to +0.08)"
    assert share_change(change) == "+4 pts (95% CI +0.3 to +8)"
    lead = lead_sentence(change, 100, "v2", "v1", "undecided", answers=50)
    assert lead == "Mean fit under v2 is higher than under v1; the interval excludes no change."
    # Just below zero, and for an interval rounded outward (a side with an exact interval): down for the lower
    # bound, up for the upper one, each still off zero.
    below = Difference("v1", "v2", -0.04, -0.08, -0.0004, "combined")
    assert fit_change(below) == "−0.04 (95% CI −0.08 to −0.0004)"
    assert share_change(below) == "−4 pts (95% CI −8 to −0.04)"
    assert fit_change(Difference("v1", "v2", 0.04, 0.0034, 0.08, "combined")) == "+0.04 (95% CI +0.003 to +0.08)"
    # A small change itself keeps its sign too.
    assert share_change(Difference("v1", "v2", 0.004, 0.003, 0.08)) == "+0.4 pts (95% CI +0.3 to +8)"


def test_a_bound_that_is_float_noise_is_zero_for_the_note_and_the_report():
    change = Difference("v1", "v2", 0.04, 1e-12, 0.08)
    assert fit_change(change) == "+0.04 (95% CI 0.00 to +0.08)"
    lead = lead_sentence(change, 100, "v2", "v1", "the data cannot tell", answers=50)
    assert lead == "The interval includes zero: the data cannot tell."
