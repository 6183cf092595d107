"""The change versus the previous period, read as scope versions are: across rating scales a hint, without a
fit-share change; without an interval not headlined as a number (the Summary, digest.json and the embed alike).

Fixtures, by hand (fit = (value - 1) / (scale - 1)):

    previous period: answers 1-40, each rated twice on the 3-point scale: odd answers 3 and 3, even ones 3 and 2.
                     Mean fit (40 + 30) / 80 = 0.875; at the top 60 of 80 = 75%.
    this period:     answers 41-80, each rated twice on the 5-point scale: odd answers 4 and 4, even ones 4 and 5.
                     Mean fit (30 + 35) / 80 = 0.8125; at the top 20 of 80 = 25%.
                     Change: mean fit −0.0625; fit share −50 points, all of it the tops of the two scales.
"""

from __future__ import annotations

import json

import pytest

from bot.digests.report import render_json, render_markdown
from bot.digests.stats import compute_digest
from bot.digests.summary import digest_embed
from tests.digests.test_stats import answer, rating, rows

HINT = (
    "rated on different scales (previous period: 3-point; this period: 5-point), so a hint, not a finding; fit "
    "share not compared (the tops of two scales are different thresholds)"
)


def previous_on_3_points(scale_of_even: int = 3):
    answers = [answer(i, day=10) for i in range(1, 41)]
    ratings = [rating(i, "m0", 3, 3, day=11) for i in range(1, 41)]
    ratings += [rating(i, "m1", 3 if i % 2 else 2, scale_of_even if i % 2 == 0 else 3, day=11) for i in range(1, 41)]
    return rows(answers, ratings, previous=True)


def this_on(scale: int = 5):
    answers = [answer(i, day=20) for i in range(41, 81)]
    if scale == 5:
        ratings = [rating(i, "m0", 4, 5, day=21) for i in range(41, 81)]
        ratings += [rating(i, "m1", 4 if i % 2 else 5, 5, day=21) for i in range(41, 81)]
    else:  # the same answers on the 3-point scale: odd 2 and 2, even 2 and 3: mean 0.625, top 25%
        ratings = [rating(i, "m0", 2, 3, day=21) for i in range(41, 81)]
        ratings += [rating(i, "m1", 2 if i % 2 else 3, 3, day=21) for i in range(41, 81)]
    return rows(answers, ratings)


def fit_field(digest) -> str:
    [value] = [
        field["value"] for field in digest_embed(digest, None, "footer").to_dict()["fields"] if field["name"] == "Fit"
    ]
    return value


def summary_line(markdown: str) -> str:
    [line] = [line for line in markdown.splitlines() if line.startswith("- Versus the previous period:")]
    return line


def test_a_change_across_rating_scales_is_a_hint_without_a_fit_share_change():
    digest = compute_digest(this_on(5), previous_on_3_points(), bootstrap=300)

    assert digest.fit_share_change is None  # 25% - 75%: the tops of two scales, not a change in fit
    assert digest.mean_fit_change is not None
    assert digest.mean_fit_change.value == pytest.approx(0.8125 - 0.875)
    assert digest.change_scales_differ is True
    assert digest.current.fit.fit_share.value == pytest.approx(0.25)
    assert digest.previous is not None and digest.previous.fit.fit_share.value == pytest.approx(0.75)

    markdown = render_markdown(digest)
    line = summary_line(markdown)
    assert line.startswith("- Versus the previous period: mean fit −0.06 (95% CI ")
    assert line.endswith(HINT)
    assert "−50 pts" not in markdown
    distribution = markdown.split("## Fit distribution")[1].split("\n## ")[0]
    assert "Previous period: fit share 75% (95% CI " in distribution
    assert "Change: mean fit −0.06 (95% CI " in distribution
    assert distribution.rstrip().endswith(f", {HINT}.")

    plain = json.loads(render_json(digest))
    assert plain["change_scales_differ"] is True
    assert plain["fit_share_change"] is None
    assert plain["mean_fit_change"]["value"] == pytest.approx(-0.0625)

    fit = fit_field(digest)
    share, mean = fit.split("\n")
    assert share.startswith("Fit share: 25% (95% CI ")
    assert share.endswith(
        "; versus the previous period: not compared (the tops of two scales are different thresholds)"
    )
    assert mean.startswith("Mean fit (0–1): 0.81 (95% CI ")
    assert "; versus the previous period −0.06 (95% CI " in mean
    assert mean.endswith(
        ", rated on different scales (previous period: 3-point; this period: 5-point), so a hint, not a finding"
    )
    assert "pts" not in fit


def test_a_period_mixing_scales_is_a_hint_too():
    """The previous period's even answers' second ratings on the 5-point scale (value 2 of 5): it mixes scales."""
    digest = compute_digest(this_on(5), previous_on_3_points(scale_of_even=5), bootstrap=100)
    assert digest.fit_share_change is None
    assert digest.change_scales_differ is True
    assert "(previous period: 3- and 5-point; this period: 5-point), so a hint" in render_markdown(digest)


def test_a_change_on_one_scale_is_stated_as_before():
    digest = compute_digest(this_on(3), previous_on_3_points(), bootstrap=300)
    assert digest.fit_share_change is not None
    assert digest.fit_share_change.value == pytest.approx(0.25 - 0.75)
    line = summary_line(render_markdown(digest))
    assert line.startswith("- Versus the previous period: fit share −50 pts (95% CI ")
    assert "hint" not in line
    fit = fit_field(digest)
    assert "; versus the previous period −50 pts (95% CI " in fit
    assert "; versus the previous period −0.25 (95% CI " in fit
    assert digest.change_scales_differ is False


def test_a_change_resting_on_one_rated_answer_is_not_headlined_as_a_number():
    """This period: answer 1 rated 3 ("Fits"): fit 1, top 100%. Previous: answers 101-104 rated 1, 2, 1, 2 by four
    members: mean 0.25, top 0%. +75 points and +0.75, neither with an interval (one rated answer)."""
    before = rows(
        [answer(100 + i, day=10) for i in range(1, 5)],
        [rating(100 + i, f"m{i}", 1 + (i + 1) % 2, day=11) for i in range(1, 5)],
        previous=True,
    )
    digest = compute_digest(rows([answer(1)], [rating(1, "ana", 3)]), before, bootstrap=200)
    assert digest.fit_share_change is not None and digest.fit_share_change.value == pytest.approx(1.0)
    assert digest.fit_share_change.low is None

    markdown = render_markdown(digest)
    assert summary_line(markdown) == (
        "- Versus the previous period: no change stated, it rests on too few ratings (a side has one rated answer); "
        "the Fit distribution section gives the numbers"
    )
    assert "+100 pts" not in markdown.split("## Data-quality notes")[0]
    # The number stays below the Summary, with its reason.
    assert "Change: fit share +100 pts (no interval: a side has one rated answer)" in markdown
    fit = fit_field(digest)
    assert "pts" not in fit and "+0.75" not in fit
    assert fit.count("versus the previous period change not stated, it rests on too few ratings (a side has one") == 2


def test_a_version_change_resting_on_one_rated_answer_is_not_headlined_as_a_number():
    # v1: answer 1 rated 2 (one rated answer); v2: answers 2-5 rated 3, 1, 3, 2: +0.125.
    answers = [answer(1, version=1)] + [answer(i, version=2) for i in range(2, 6)]
    ratings = [rating(1, "ana", 2)] + [rating(i, f"m{i}", v) for i, v in zip(range(2, 6), (3, 1, 3, 2), strict=True)]
    markdown = render_markdown(compute_digest(rows(answers, ratings), None, bootstrap=100))
    summary = markdown.split("## Summary")[1].split("\n## ")[0]
    assert (
        "- Latest scope version v2 versus v1 (this period): mean fit change not stated, it rests on too few "
        "ratings (a side has one rated answer)"
    ) in summary
    assert "+0.12" not in summary
    assert "v2 minus v1, this period: mean fit +0.12 (no interval: a side has one rated answer)" in markdown


def test_periods_each_mixing_the_same_scales_are_called_a_mix_with_each_scales_share():
    """Both periods on the 3- and 5-point scales: not "different scales", but a mix whose proportions changed.
    Previous: 80 ratings, of which the even answers' second ones (20) on the 5-point scale: 75% 3-point, 25%
    5-point. This period: 80 on the 5-point scale and one more on the 3-point scale (answer 41): 1% and 99%."""
    previous = previous_on_3_points(scale_of_even=5)
    now = this_on(5)
    now = rows(now.answers, [*now.ratings, rating(41, "m2", 3, 3, day=21)])
    digest = compute_digest(now, previous, bootstrap=20)
    line = summary_line(render_markdown(digest))
    assert (
        "rated on a mix of 3- and 5-point scales in both periods (ratings on each: 3-point 75% then 1%, 5-point "
        "25% then 99%), so a hint, not a finding"
    ) in line
    assert "different scales" not in line
    # The embed says so too, for both numbers: the fit share no longer claims "different scales".
    share, mean = fit_field(digest).split("\n")
    assert share.endswith(
        "; versus the previous period: not compared (the tops of two scales are different thresholds)"
    )
    assert mean.endswith(
        "rated on a mix of 3- and 5-point scales in both periods (ratings on each: 3-point 75% then 1%, 5-point 25% "
        "then 99%), so a hint, not a finding"
    )
    assert "different scales" not in share + mean
