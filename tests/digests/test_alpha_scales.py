"""Krippendorff's alpha when ratings were given on two scales: computed within each scale, never merged.

Hand-computed fixtures (ordinal alpha, Krippendorff 2011; see bot/digests/agreement.py). With two categories
every metric is nominal up to a factor, so alpha = 1 - (n - 1) · o_ck / (n_c · n_k).
"""

from __future__ import annotations

import json

import pytest

from bot.digests.agreement import krippendorff_alpha
from bot.digests.model import ScaleAlpha
from bot.digests.periods import prepare
from bot.digests.rater_agreement import ALPHA_NO_SPREAD, alpha_text
from bot.digests.report import render_json, render_markdown
from bot.digests.sections import ALPHA_BY_SCALE_READ
from bot.digests.stats import compute_digest
from bot.digests.summary import CUT, digest_embed
from tests.digests.test_stats import answer, rating, rows

READING_LOW = (
    "members often judge the same answer differently. For cultural fit this can be real variation within the "
    "community rather than noise: read the split answers and their comments."
)


def rated(pairs: list[tuple[int, int]], scale: int, first_id: int, raters: tuple[str, str]):
    """Answers first_id, first_id + 1, … each rated once by both raters, with these values on `scale`."""
    answers = [answer(first_id + i) for i in range(len(pairs))]
    ratings = [
        rating(first_id + i, rater, value, scale)
        for i, pair in enumerate(pairs)
        for rater, value in zip(raters, pair, strict=True)
    ]
    return answers, ratings


def mixed_period():
    """11 answers on the 3-point scale, 10 on the 5-point scale, 2 rated once on each.

    3-point: 6 × (3, 3), 4 × (1, 1), 1 × (2, 2): every answer's ratings agree, alpha = 1.
    5-point: 6 × (5, 5), 2 × (4, 4), 2 × (4, 5). Two categories: n_5 = 14, n_4 = 6, n = 20, o_45 = 2 (one per
    disagreeing answer, m_u - 1 = 1), alpha = 1 - 19 · 2 / (6 · 14) = 23/42 = 0.5476.
    Both scales: 2 × (3 of 3, 4 of 5): no other rating on either scale, so in neither alpha (4 ratings left out).
    """
    three = rated([(3, 3)] * 6 + [(1, 1)] * 4 + [(2, 2)], 3, 0, ("ana", "budi"))
    five = rated([(5, 5)] * 6 + [(4, 4)] * 2 + [(4, 5)] * 2, 5, 100, ("citra", "dewi"))
    answers = three[0] + five[0] + [answer(200), answer(201)]
    ratings = three[1] + five[1]
    ratings += [rating(200, "ana", 3, 3), rating(200, "dewi", 4, 5)]
    ratings += [rating(201, "budi", 3, 3), rating(201, "citra", 4, 5)]
    return rows(answers, ratings)


def test_mixed_scales_get_an_alpha_each_and_merging_would_give_another_number():
    digest = compute_digest(mixed_period(), None)
    d = digest.disagreement

    three, five = d.alpha_by_scale
    # Every 3-point answer's ratings agree: every resample gives 1, which is no interval.
    assert three == ScaleAlpha(3, 1.0, 11, 22, 2, interval=ALPHA_NO_SPREAD)
    assert (five.scale_size, five.units, five.values, five.raters) == (5, 10, 20, 2)
    assert five.alpha == pytest.approx(23 / 42)
    # Ten answers, two of them disagreeing: wide; resamples without either have perfect agreement.
    assert five.low is not None and five.high is not None and five.alpha is not None and five.interval is None
    assert five.low < 0 < five.alpha < five.high == pytest.approx(1.0)
    assert d.alpha_left_out == 4
    # The headline is the scale with the most pairable ratings: 3-point, 22 against 20.
    assert (d.alpha_scale, d.alpha, d.alpha_units, d.alpha_values, d.alpha_raters) == (3, 1.0, 11, 22, 2)
    assert d.multi_rated_answers == 23

    # What merging on the 0–1 fit scale gave (the old figure), by hand: categories 0, 0.5, 0.75, 1 with marginals
    # 8, 2, 8, 28 (n = 46); observed disagreement only between 0.75 and 1 (4 answers: o = 4 each way), δ² =
    # ((8 + 28) / 2)² = 324; expected Σ n_c n_k δ² over ordered pairs = 570,032. alpha = 1 - 45 · 2592 / 570032.
    period = prepare(mixed_period())
    pairable = (period.count >= 2)[period.rating_index]
    merged = krippendorff_alpha(period.rating_index[pairable], period.fit[pairable], "ordinal").alpha
    assert merged == pytest.approx(1 - 45 * 2592 / 570032)
    assert merged == pytest.approx(0.79538, abs=1e-5)
    assert merged not in (pytest.approx(1.0), pytest.approx(23 / 42))

    assert d.alpha_sentence == (
        "Krippendorff's alpha (ordinal) is computed within each rating scale, not across them: ratings on different "
        "scales are different measurements. 3-point scale: 1.00 (no interval: every resample of the answers with an "
        "alpha gives the same one) over 11 answers rated by two or more members on it (22 ratings by 2 members). "
        f"5-point scale: {alpha_text(five)} over 10 answers rated by two or more members on it (20 ratings by 2 "
        "members). Left out: 4 ratings of answers rated on more than one scale that have no "
        "other rating on their own scale to pair with. 1 is perfect agreement, 0 is agreement no better than chance. "
        "Reading, 3-point: members largely agree on how well answers fit. Reading, 5-point: " + READING_LOW + " Its "
        "interval reaches across 0.667 and 0.8, so this reading is not settled. Its interval includes 0: agreement "
        "no better than chance is not ruled out."
    )
    assert alpha_text(five) == f"0.55 (95% CI −{-five.low:.2f} to 1.00)"


def test_mixed_scales_in_the_report_json_and_embed():
    digest = compute_digest(mixed_period(), None)

    plain = json.loads(render_json(digest))["disagreement"]
    assert plain["alpha_scale"] == 3 and plain["alpha_left_out"] == 4
    assert [(entry["scale_size"], entry["units"], entry["values"]) for entry in plain["alpha_by_scale"]] == [
        (3, 11, 22),
        (5, 10, 20),
    ]
    assert plain["alpha_by_scale"][1]["alpha"] == pytest.approx(23 / 42)
    five = digest.disagreement.alpha_by_scale[1]
    assert (plain["alpha_by_scale"][1]["low"], plain["alpha_by_scale"][1]["high"]) == (five.low, five.high)
    assert plain["alpha_by_scale"][0]["interval"] == ALPHA_NO_SPREAD
    # The headline's interval: the 3-point scale's, which has none.
    assert (plain["alpha_low"], plain["alpha_high"]) == (None, None)
    report = render_markdown(digest)
    assert f"5-point scale: {alpha_text(five)} over 10 answers" in report
    assert "share one ordinal 0–1 fit scale" not in report
    assert "computed within each rating scale, not on the 0–1 fit scale" in report  # How to read this
    embed = digest_embed(digest, None, "footer")
    agreement = next(field for field in embed.fields if field.name == "Agreement")
    # Longer than a field holds (1,024 characters): cut where it must be, pointing to the report, which has it all.
    # Two scales' alphas with intervals and readings are longer than a field holds (1,024 characters): the embed
    # gives each scale's alpha and interval, and leaves the readings to the report.
    assert len(digest.disagreement.alpha_sentence) > 1024
    assert agreement.value == (
        "Krippendorff's alpha (ordinal), within each rating scale: 3-point scale: 1.00 (no interval: every resample "
        f"of the answers with an alpha gives the same one) over 11 answers; 5-point scale: {alpha_text(five)} over 10 "
        "answers. How to read them: in the attached report."
    )
    assert CUT not in str(agreement.value)


SINGLE = [(3, 3)] * 5 + [(3, 2), (2, 2), (2, 2), (1, 1), (1, 1), (1, 2), (3, 1)]


def test_one_scale_reads_as_it_always_did():
    digest = compute_digest(rows(*rated(SINGLE, 3, 0, ("ana", "budi"))), None)
    d = digest.disagreement

    # Twelve answers: the interval is wide, and spans the bounds between readings, which the sentence says.
    assert d.alpha_low is not None and d.alpha_high is not None
    assert d.alpha_low < 0.3 and d.alpha_high > 0.8
    assert d.alpha_sentence == (
        f"Krippendorff's alpha (ordinal) is 0.66 (95% CI {d.alpha_low:.2f} to {d.alpha_high:.2f}) over 12 answers "
        "rated by two or more members (24 ratings by 2 members); 1 is perfect agreement, 0 is agreement no better "
        "than chance. Reading: " + READING_LOW + " Its interval reaches across 0.667 and 0.8, so this reading is not "
        "settled."
    )
    assert d.alpha == pytest.approx(0.6628086)
    assert (d.alpha_units, d.alpha_values, d.alpha_raters) == (12, 24, 2)
    assert d.alpha_scale == 3 and d.alpha_left_out == 0
    assert d.alpha_by_scale == (ScaleAlpha(3, d.alpha, 12, 24, 2, d.alpha_low, d.alpha_high),)
    assert ALPHA_BY_SCALE_READ not in render_markdown(digest)


def test_a_one_off_rating_on_another_scale_is_left_out_and_said():
    """One answer rated once on each scale beside twelve 3-point ones: the 3-point alpha is unchanged, and the two
    ratings are counted as left out instead of merged in."""
    answers, ratings = rated(SINGLE, 3, 0, ("ana", "budi"))
    answers.append(answer(50))
    ratings += [rating(50, "ana", 3, 3), rating(50, "budi", 5, 5)]
    d = compute_digest(rows(answers, ratings), None).disagreement

    assert d.alpha == pytest.approx(0.6628086)
    assert (d.alpha_units, d.alpha_values, d.alpha_left_out) == (12, 24, 2)
    assert d.alpha_by_scale == (ScaleAlpha(3, d.alpha, 12, 24, 2, d.alpha_low, d.alpha_high),)
    assert d.alpha_sentence.startswith(
        "Krippendorff's alpha (ordinal) is computed within each rating scale, not across them: ratings on different "
        f"scales are different measurements. 3-point scale: 0.66 (95% CI {d.alpha_low:.2f} to {d.alpha_high:.2f}) "
        "over 12 answers rated by two or more members on it (24 ratings by 2 members). Left out: 2 ratings of "
        "answers rated on more than one scale that have no other rating on their own scale to pair with."
    )


def test_a_scale_with_too_few_answers_is_named_not_reported():
    three = rated([(3, 3)] * 6 + [(1, 1)] * 4 + [(2, 2)], 3, 0, ("ana", "budi"))
    five = rated([(5, 5), (4, 4), (4, 5)], 5, 100, ("citra", "dewi"))
    d = compute_digest(rows(three[0] + five[0], three[1] + five[1]), None).disagreement

    assert d.alpha_by_scale == (ScaleAlpha(3, 1.0, 11, 22, 2, interval=ALPHA_NO_SPREAD), ScaleAlpha(5, None, 3, 6, 2))
    assert (d.alpha_scale, d.alpha) == (3, 1.0)
    assert (
        "5-point scale: not reported, only 3 answers were rated by two or more members on it (at least 10 are "
        "needed)." in d.alpha_sentence
    )
    assert "Reading: members largely agree on how well answers fit." in d.alpha_sentence


def test_the_headline_scale_has_enough_answers_before_more_ratings():
    """5-point: 9 answers with 4 ratings each (36 values, too few answers); 3-point: 10 answers with 2 (20)."""
    five_answers = [answer(100 + i) for i in range(9)]
    five_ratings = [rating(100 + i, rater, 5 - i % 2, 5) for i in range(9) for rater in ("a", "b", "c", "d")]
    three = rated([(3, 3)] * 5 + [(1, 1)] * 5, 3, 0, ("ana", "budi"))
    d = compute_digest(rows(three[0] + five_answers, three[1] + five_ratings), None).disagreement

    assert [(entry.scale_size, entry.units, entry.values) for entry in d.alpha_by_scale] == [(3, 10, 20), (5, 9, 36)]
    assert (d.alpha_scale, d.alpha, d.alpha_units, d.alpha_values) == (3, 1.0, 10, 20)


def test_an_undefined_scale_is_said_so():
    three = rated([(2, 2)] * 10, 3, 0, ("ana", "budi"))
    five = rated([(5, 5)] * 6 + [(4, 4)] * 2 + [(4, 5)] * 2, 5, 100, ("citra", "dewi"))
    d = compute_digest(rows(three[0] + five[0], three[1] + five[1]), None).disagreement

    assert d.alpha_by_scale[0] == ScaleAlpha(3, None, 10, 20, 2)
    assert (
        "3-point scale: undefined, all 20 ratings on its 10 answers rated by two or more members have the same value."
        in d.alpha_sentence
    )
    assert "Reading: " + READING_LOW in d.alpha_sentence  # the 5-point scale's, the only one reported
    # Both scales have 20 pairable ratings on 10 answers: the larger scale is the headline.
    assert d.alpha_scale == 5
    assert d.alpha == pytest.approx(23 / 42)


def test_too_few_multi_rated_answers_reads_as_before_whatever_the_scales():
    three = rated([(3, 3)] * 3, 3, 0, ("ana", "budi"))
    five = rated([(5, 4)] * 3, 5, 100, ("citra", "dewi"))
    d = compute_digest(rows(three[0] + five[0], three[1] + five[1]), None).disagreement

    assert d.alpha_sentence == (
        "Agreement across raters (Krippendorff's alpha) is not reported: only 6 answers were rated by two or more "
        "members, and at least 10 are needed for a meaningful estimate."
    )
    assert (d.alpha, d.alpha_scale, d.alpha_by_scale, d.alpha_left_out) == (None, None, (), 0)


def test_alpha_within_a_scale_does_not_depend_on_the_other_scale():
    """Adding the 5-point answers leaves the 3-point alpha exactly what the 3-point answers alone give. (Not its
    interval: the bootstrap draws from all the period's answers, so how many 3-point ones a resample holds varies.)"""
    alone = compute_digest(rows(*rated(SINGLE, 3, 0, ("ana", "budi"))), None).disagreement
    three = rated(SINGLE, 3, 0, ("ana", "budi"))
    five = rated([(5, 1)] * 12, 5, 100, ("citra", "dewi"))
    both = compute_digest(rows(three[0] + five[0], three[1] + five[1]), None).disagreement

    point = ("scale_size", "alpha", "units", "values", "raters")
    assert [getattr(both.alpha_by_scale[0], name) for name in point] == [
        getattr(alone.alpha_by_scale[0], name) for name in point
    ]
    # 5-point: every answer rated 5 and 1. n_1 = n_5 = 12, o_15 = 12: alpha = 1 - 23 · 12 / (12 · 12).
    five = both.alpha_by_scale[1]
    assert (five.scale_size, five.units, five.values, five.raters) == (5, 12, 24, 2)
    assert five.alpha == pytest.approx(1 - 23 / 12)


def test_answers_rated_by_two_members_only_on_different_scales_say_why_alpha_is_not_reported():
    """Twelve answers, each rated once on the 3-point and once on the 5-point scale (answers stored before their
    scale was, rated before and after a change): no pair on one scale. That raised ValueError, failing the whole
    digest, which was then retried and left pending."""
    answers = [answer(i) for i in range(12)]
    ratings = [r for i in range(12) for r in (rating(i, "ana", 2, 3), rating(i, "budi", 4, 5))]
    d = compute_digest(rows(answers, ratings), None).disagreement

    assert d.alpha is None and d.alpha_by_scale == ()
    assert d.alpha_left_out == 24
    assert d.alpha_sentence.startswith("Agreement across raters (Krippendorff's alpha) is not reported: the answers")
    assert "(24 ratings)" in d.alpha_sentence
    digest = compute_digest(rows(answers, ratings), None)
    assert d.alpha_sentence in render_markdown(digest)
    assert json.loads(render_json(digest))["disagreement"]["alpha"] is None
    agreement = next(field for field in digest_embed(digest, None, "footer").fields if field.name == "Agreement")
    assert agreement.value == d.alpha_sentence
