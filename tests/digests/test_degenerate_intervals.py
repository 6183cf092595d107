"""Statistics whose every resample gives the same value, and the lowest-fit list's cut-off, against hand-computed
numbers.

A percentile interval of replicates that are all alike has zero width ("100% (95% CI 100–100%)", a change of
"0 pts (95% CI 0 to 0)") and claims a certainty no sample gives. At 0 or 1 the digest gives the exact
(Clopper-Pearson) 95% interval over the resampling units instead: [0.025 ** (1 / n), 1] for n of n,
[0, 1 - 0.025 ** (1 / n)] for 0 of n. The numbers used below:

    n = 2: 0.025 ** (1 / 2) = 0.158114          n = 12: 1 - 0.025 ** (1 / 12) = 0.264648
    n = 3: 0.025 ** (1 / 3) = 0.292402          n = 25: 0.025 ** (1 / 25) = 0.862815
    n = 4: 1 - 0.025 ** (1 / 4) = 0.602365      n = 30: 1 - 0.025 ** (1 / 30) = 0.115703
    n = 5: 0.025 ** (1 / 5) = 0.478176

A change with such a side combines the sides' intervals (MOVER): low = d - sqrt((b - b_low)^2 + (a_high - a)^2),
high = d + sqrt((b_high - b)^2 + (a - a_low)^2) for d = b - a.
"""

from __future__ import annotations

import dataclasses

import pytest

from bot.digests import formatting as fmt
from bot.digests.model import Difference, Estimate
from bot.digests.report import render_markdown
from bot.digests.stats import compute_digest
from tests.digests.test_stats import answer, codes, member, rating, rows

# ---------------------------------------------------------------------------------------------- helpers


def all_top(first: int, count: int, *, previous: bool = False, version: int = 1):
    """`count` answers from `first` on, each rated once at the top by its own member."""
    day = 10 if previous else 17
    answers = [answer(i, day=day, version=version) for i in range(first, first + count)]
    ratings = [rating(i, f"m{i}", 3, day=day + 1) for i in range(first, first + count)]
    return rows(answers, ratings, previous=previous)


def section(markdown: str, heading: str) -> str:
    return markdown.split(f"## {heading}")[1].split("\n## ")[0]


# ---------------------------------------------------------------------------------------------- differences


def test_a_change_between_two_periods_all_at_the_top_is_not_a_certain_zero():
    # Both periods: 5 answers, every rating at the top. Each side is [0.478176, 1]; d = 0, so the change is
    # 0 ± sqrt((1 - 0.478176)^2 + 0^2) = ±0.521824.
    digest = compute_digest(all_top(1, 5), all_top(11, 5, previous=True))

    for change in (digest.fit_share_change, digest.mean_fit_change):
        assert change is not None
        assert change.value == 0
        assert change.low == pytest.approx(-0.521824, abs=1e-6)
        assert change.high == pytest.approx(0.521824, abs=1e-6)
        assert change.interval == "combined"
    # Rounded outward to whole points: −52.18 shows as −53, +52.18 as +53.
    assert fmt.share_change(digest.fit_share_change) == "0 pts (95% CI −53 to +53)"
    assert fmt.fit_change(digest.mean_fit_change) == "0.00 (95% CI −0.53 to +0.53)"
    markdown = render_markdown(digest)
    assert "(95% CI 0 to 0)" not in markdown and "(95% CI 0.00 to 0.00)" not in markdown


def test_a_scope_version_change_between_two_versions_all_at_the_top_is_not_a_certain_zero():
    digest = compute_digest(all_top(1, 5, version=2), all_top(11, 5, previous=True, version=1))

    change = digest.versions.mean_fit_change
    assert change is not None
    assert (change.value, change.interval) == (0, "combined")
    assert change.low == pytest.approx(-0.521824, abs=1e-6)
    assert change.high == pytest.approx(0.521824, abs=1e-6)
    assert fmt.fit_change(change) == "0.00 (95% CI −0.53 to +0.53)"


def test_a_change_from_all_at_the_top_to_none_at_the_top_carries_both_sides_uncertainty():
    # v1: 25 answers all "Fits" (share 1, [0.862815, 1]); v2: 30 answers all "Partly fits" (share 0,
    # [0, 0.115703]). d = -1; low = -1 - sqrt(0^2 + 0^2) = -1; high = -1 + sqrt(0.115703^2 + 0.137185^2)
    # = -1 + 0.179464 = -0.820536. Mean fit of v2 is 0.5 in every resample: no interval, so its change has none.
    answers = [answer(i, version=1) for i in range(1, 26)] + [answer(i, version=2) for i in range(26, 56)]
    ratings = [rating(i, f"m{i % 7}", 3) for i in range(1, 26)] + [rating(i, f"m{i % 7}", 2) for i in range(26, 56)]
    versions = compute_digest(rows(answers, ratings), None).versions

    share = versions.fit_share_change
    assert share is not None
    assert share.value == pytest.approx(-1.0)
    assert share.low == pytest.approx(-1.0)
    assert share.high == pytest.approx(-0.820536, abs=1e-6)
    assert fmt.share_change(share) == "−100 pts (95% CI −100 to −82)"
    mean = versions.mean_fit_change
    assert mean is not None
    assert mean.value == pytest.approx(-0.5)
    assert (mean.low, mean.high) == (None, None)
    assert versions.note.startswith(
        "v2 versus v1 in this period: on one side every resample of answers gives the same mean fit, so the "
        "difference has no interval"
    )


def test_combined_interval_by_hand():
    from bot.digests.estimates import combined_interval

    # a = 1 in [0.5, 1], b = 0.4 in [0.2, 0.6]: d = -0.6; low = -0.6 - sqrt(0.2^2 + 0^2) = -0.8;
    # high = -0.6 + sqrt(0.2^2 + 0.5^2) = -0.6 + 0.538516 = -0.061484.
    low, high = combined_interval((1.0, 0.5, 1.0), (0.4, 0.2, 0.6))
    assert low == pytest.approx(-0.8)
    assert high == pytest.approx(-0.061484, abs=1e-6)


# ---------------------------------------------------------------------------------------------- estimates


def test_a_group_all_at_the_top_gets_the_exact_interval_not_a_certain_100():
    # 25 answers in Indonesian all at the top beside 25 varied ones in English: [0.862815, 1].
    answers = [answer(i, language="id") for i in range(1, 26)] + [answer(i, language="en") for i in range(26, 51)]
    ratings = [rating(i, f"m{i % 7}", 3) for i in range(1, 26)] + [
        rating(i, f"m{i % 7}", 1 + i % 3) for i in range(26, 51)
    ]
    digest = compute_digest(rows(answers, ratings), None)
    language = digest.breakdown("language")
    assert language is not None
    indonesian = next(group for group in language.groups if group.key == "id")

    for estimate in (indonesian.fit_share, indonesian.mean_fit):
        assert (estimate.value, estimate.high, estimate.interval) == (1.0, 1.0, "exact")
        assert estimate.low == pytest.approx(0.862815, abs=1e-6)
    assert fmt.share_with_ci(indonesian.fit_share) == "100% (every rating at the top: exact 95% CI 86–100%)"
    assert fmt.fit_with_ci(indonesian.mean_fit) == "1.00 (every rating at the top: exact 95% CI 0.86–1.00)"
    english = next(group for group in language.groups if group.key == "en")
    assert english.fit_share.interval == "bootstrap"
    assert "CI 100–100%" not in render_markdown(digest)


def test_a_period_with_no_rating_at_the_top_gets_the_exact_interval_and_a_note():
    # 30 answers rated 1 or 2 of 3: fit share 0 in every resample, [0, 0.115703]; mean fit varies (bootstrap).
    answers = [answer(i) for i in range(1, 31)]
    ratings = [rating(i, f"m{i % 6}", 1 + i % 2) for i in range(1, 31)]
    digest = compute_digest(rows(answers, ratings), None)
    fit = digest.current.fit

    assert (fit.fit_share.value, fit.fit_share.low, fit.fit_share.interval) == (0.0, 0.0, "exact")
    assert fit.fit_share.high == pytest.approx(0.115703, abs=1e-6)
    assert fit.mean_fit.interval == "bootstrap"
    assert "Fit share: 0% (no rating at the top: exact 95% CI 0–12%)" in render_markdown(digest)
    (note,) = (note for note in digest.notes if note.code == "no_spread")
    assert note.message.startswith("This period: no rating was at the top (fit share 0%).")
    assert "exact (Clopper-Pearson) 95% interval for 30 rated answers" in note.message
    assert "all_equal" not in codes(digest)


def test_few_answers_not_rated_alike_are_not_called_rated_alike():
    # 4 answers rated 1, 2, 1, 2 of 3: none at the top, but not rated alike. Share [0, 0.602365].
    answers = [answer(i) for i in range(1, 5)]
    ratings = [rating(i, f"m{i}", 1 + i % 2) for i in range(1, 5)]
    digest = compute_digest(rows(answers, ratings), None)

    share = digest.current.fit.fit_share
    assert share.low == 0.0
    assert share.high == pytest.approx(0.602365, abs=1e-6)
    assert fmt.share_with_ci(share) == "0% (no rating at the top: exact 95% CI 0–61%)"
    assert "rated alike" not in render_markdown(digest)


def test_every_answer_partly_fitting_has_no_interval_and_says_why():
    # 12 answers, each rated "Partly fits" twice: mean fit 0.5 in every resample, and nothing bounds it there.
    # Fit share 0: [0, 0.264648].
    answers = [answer(i) for i in range(12)]
    ratings = [rating(i, rater, 2) for i in range(12) for rater in ("ana", "budi")]
    digest = compute_digest(rows(answers, ratings), None)
    fit = digest.current.fit

    assert fit.mean_fit == Estimate(0.5, None, None, 12, 24, "no_spread")
    assert fmt.fit_with_ci(fit.mean_fit) == "0.50 (no interval: every resample gives the same value)"
    assert fit.fit_share.high == pytest.approx(0.264648, abs=1e-6)
    (note,) = (note for note in digest.notes if note.code == "no_spread")
    assert "every answer's ratings averaged the same mean fit (0.50)" in note.message
    assert "elsewhere no interval is shown" in note.message


def test_the_previous_period_all_at_the_top_gets_a_note_too():
    digest = compute_digest(
        rows([answer(i) for i in range(1, 31)], [rating(i, f"m{i % 6}", 1 + i % 3) for i in range(1, 31)]),
        all_top(101, 5, previous=True),
    )
    messages = [note.message for note in digest.notes if note.code == "no_spread"]
    assert len(messages) == 1
    assert messages[0].startswith("The previous period: every rating was at the top (fit share 100%, mean fit 1.00).")
    assert "for 5 rated answers" in messages[0]


def test_exact_bounds_are_rounded_outward():
    # 2462 answers all at the top: 0.025 ** (1 / 2462) = 0.998503, shown as 99% (never 100–100%) and 0.99.
    estimate = Estimate(1.0, 0.998503, 1.0, 2462, 2462, "exact")
    assert fmt.share_with_ci(estimate) == "100% (every rating at the top: exact 95% CI 99–100%)"
    assert fmt.fit_with_ci(estimate) == "1.00 (every rating at the top: exact 95% CI 0.99–1.00)"
    bottom = Estimate(0.0, 0.0, 0.001497, 2462, 2462, "exact")
    assert fmt.fit_with_ci(bottom) == "0.00 (every rating at the bottom: exact 95% CI 0.00–0.01)"
    assert fmt.share_change(Difference("a", "b", 0.0, -0.001, 0.001, "combined")) == "0 pts (95% CI −1 to +1)"


# ---------------------------------------------------------------------------------------------- randomized


def in_arm(answer_id: int, arm: str, asker: str):
    return dataclasses.replace(answer(answer_id), arm=arm, asker_hash=member(asker))


def test_randomized_arms_all_at_the_top_get_exact_intervals_over_members():
    # 3 asking members per arm (2 answers each), every rating at the top: each arm [0.292402, 1] over its
    # 3 members (not its 6 answers); the change 0 ± (1 - 0.292402) = ±0.707598.
    answers = [in_arm(i, "1:current" if i % 2 else "1:alternative", f"asker{i % 6}") for i in range(1, 13)]
    ratings = [rating(i, f"r{i}", 3) for i in range(1, 13)]
    [comparison] = compute_digest(rows(answers, ratings), None).comparisons

    for group in (comparison.current, comparison.alternative):
        assert (group.fit_share.value, group.fit_share.high, group.fit_share.interval) == (1.0, 1.0, "exact")
        assert group.fit_share.low == pytest.approx(0.292402, abs=1e-6)
        assert group.mean_fit.low == pytest.approx(0.292402, abs=1e-6)
    change = comparison.fit_share_change
    assert change is not None  # both arms on the 3-point scale
    assert (change.value, change.interval) == (0, "combined")
    assert change.low == pytest.approx(-0.707598, abs=1e-6)
    assert change.high == pytest.approx(0.707598, abs=1e-6)
    assert fmt.share_change(change) == "0 pts (95% CI −71 to +71)"
    assert "(95% CI 0 to 0)" not in render_markdown(compute_digest(rows(answers, ratings), None))


def test_randomized_arm_alike_between_zero_and_one_has_no_interval():
    # Current arm: 3 members, every answer "Partly fits" (0.5 in every resample of members): no interval, and so
    # none for the change; the note says why, and for which arm, rather than "too few members".
    answers = [in_arm(i, "2:current", f"c{i % 3}") for i in range(1, 7)]
    answers += [in_arm(i, "2:alternative", f"a{i % 3}") for i in range(7, 13)]
    ratings = [rating(i, "rater", 2) for i in range(1, 7)] + [rating(i, "rater", 1 + i % 3) for i in range(7, 13)]
    [comparison] = compute_digest(rows(answers, ratings), None).comparisons

    assert comparison.current.mean_fit == Estimate(0.5, None, None, 6, 6, "no_spread")
    assert comparison.mean_fit_change.low is None
    assert comparison.note == (
        "Comparison #2: the difference has no interval: every resample of the members under the current version "
        "(v1) gives the same mean fit, so its uncertainty is not measured; and the alternative version (v1) has "
        "rated answers from 3 asking members only, too few to resample (at least 5 are needed). Rated answers from "
        "this period."
    )


def test_one_asking_member_is_named_as_the_reason_for_no_interval():
    answers = [in_arm(i, "5:current", "only-current") for i in range(1, 21)]
    answers += [in_arm(i, "5:alternative", "only-alternative") for i in range(21, 41)]
    ratings = [rating(i, "rater", 1 + i % 3) for i in range(1, 41)]
    [comparison] = compute_digest(rows(answers, ratings), None).comparisons

    assert comparison.current.mean_fit.interval == "one_member"
    assert fmt.fit_with_ci(comparison.current.mean_fit).endswith("(no interval: one asking member)")


# ---------------------------------------------------------------------------------------------- lowest fit


def test_lowest_fit_says_how_many_more_answers_tie_with_the_last_one_shown():
    # 25 answers rated "Does not fit" once (mean 0), 5 at the top: 10 listed, 15 more as low.
    answers = [answer(i) for i in range(1, 31)]
    ratings = [rating(i, f"m{i % 9}", 1) for i in range(1, 26)] + [rating(i, f"m{i % 9}", 3) for i in range(26, 31)]
    digest = compute_digest(rows(answers, ratings), None)

    assert [note.answer_id for note in digest.lowest_fit] == list(range(1, 11))
    assert digest.lowest_fit_ties == 15
    assert digest.to_dict()["lowest_fit_ties"] == 15
    text = section(render_markdown(digest), "Lowest-fit answers, for follow-up")
    assert "Not listed: 15 more answers with the same mean fit (0.00) as the last one shown" in text


def test_lowest_fit_ties_count_only_the_last_shown_mean():
    # 9 answers at mean 0 and 3 at 0.5: 9 + 1 listed; 2 more at 0.5 tie with the last one.
    answers = [answer(i) for i in range(1, 13)]
    ratings = [rating(i, "ana", 1) for i in range(1, 10)] + [rating(i, "ana", 2) for i in range(10, 13)]
    digest = compute_digest(rows(answers, ratings), None)

    assert [note.mean_fit for note in digest.lowest_fit] == [0.0] * 9 + [0.5]
    assert digest.lowest_fit_ties == 2


def test_answers_all_at_the_top_are_not_lowest_fit():
    answers = [answer(1), answer(2), answer(3)]
    ratings = [rating(1, "ana", 3), rating(2, "budi", 3), rating(3, "ana", 2), rating(3, "budi", 3)]
    digest = compute_digest(rows(answers, ratings), None)
    # Answer 3: (0.5 + 1) / 2 = 0.75; answers 1 and 2: 1.0, left out.
    assert [(note.answer_id, note.mean_fit) for note in digest.lowest_fit] == [(3, 0.75)]
    assert digest.lowest_fit_ties == 0

    only_top = compute_digest(rows([answer(1), answer(2)], [rating(1, "a", 3), rating(2, "b", 3)]), None)
    assert only_top.lowest_fit == ()
    text = section(render_markdown(only_top), "Lowest-fit answers, for follow-up")
    assert "Every rated answer in this period had all its ratings at the top (mean fit 1.00): none to list." in text
    assert "No rated answers in this period." in section(render_markdown(compute_digest(rows(), None)), "Lowest-fit")


def test_notes_about_intervals_agree_with_the_interval_shown():
    """Every rating at the top: the headline has an exact interval, so the note on equal ratings does not claim
    the numbers' uncertainty cannot be shown without pointing to it; one rating by one member: no interval at all,
    so the few-raters note says nothing of intervals being too narrow."""
    top = compute_digest(rows([answer(i) for i in range(12)], [rating(i, f"m{i % 3}", 3) for i in range(12)]), None)
    notes = {note.code: note.message for note in top.notes}
    assert top.current.fit.fit_share.low is not None  # the exact interval
    assert notes["all_equal"].endswith("(the note on intervals says what is shown).")
    assert "exact (Clopper-Pearson) 95% interval" in notes["no_spread"]

    one = compute_digest(rows([answer(1)], [rating(1, "ana", 3)]), None)
    few = next(note.message for note in one.notes if note.code == "few_raters")
    assert few == "Only 1 member rated answers: the numbers describe them, not the community."
    assert "too narrow" in next(
        note.message
        for note in compute_digest(
            rows([answer(i) for i in range(12)], [rating(i, f"m{i % 3}", 1 + i % 3) for i in range(12)]), None
        ).notes
        if note.code == "few_raters"
    ), "where there is an interval, it is still said to be likely too narrow"
