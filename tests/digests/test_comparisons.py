"""Randomized comparisons in the digest: the arms' numbers against hand-computed fixtures, notes and report."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bot.digests.report import render_json, render_markdown
from bot.digests.rows import AnswerRow
from bot.digests.stats import compute_digest
from bot.digests.summary import digest_embed
from tests.digests.test_stats import answer, member, rating, rows


def in_arm(answer_id: int, arm: str | None, version: int, asker: str | None = None):
    """An answer in an arm, asked by `asker` (default: a member of its own, as if every question came from
    another member; a member is only ever in one arm)."""
    who = member(asker or f"a{answer_id}-{arm}")  # member() keeps 16 characters: the id first
    return dataclasses.replace(answer(answer_id, version=version), arm=arm, asker_hash=who)


def small_comparison():
    """Comparison 1: the current arm (v2) answers 1-4 and 10 (five asking members, the fewest an interval is
    resampled from), the alternative arm (v1) answers 5-8; answer 9 outside."""
    answers = [in_arm(i, "1:current", 2) for i in (1, 2, 3, 4, 10)]
    answers += [in_arm(i, "1:alternative", 1) for i in (5, 6, 7, 8)]
    answers.append(in_arm(9, None, 2))
    ratings = [
        # current: fits 1, 0.5, 0, 1 and 0.5 on answer 4, 0.5 -> mean 3.5/6; top ratings 2/6
        rating(1, "ana", 3),
        rating(2, "ana", 2),
        rating(3, "ana", 1),
        rating(4, "ana", 3),
        rating(4, "budi", 2),
        rating(10, "ana", 2),
        # alternative: every rating at the top -> mean 1.0, share 1.0
        *(rating(i, "budi", 3) for i in (5, 6, 7, 8)),
        rating(8, "citra", 3),
        rating(9, "ana", 1),  # outside the comparison: in neither arm
    ]
    return rows(answers, ratings)


def test_arms_and_their_difference_match_hand_computed_values():
    digest = compute_digest(small_comparison(), None, seed=3)

    [comparison] = digest.comparisons
    assert comparison.comparison_id == 1
    current, alternative = comparison.current, comparison.alternative
    assert (current.label, alternative.label) == ("current version (v2)", "alternative version (v1)")
    assert (current.answers, current.mean_fit.answers, current.mean_fit.ratings) == (5, 5, 6)
    assert (alternative.answers, alternative.mean_fit.answers, alternative.mean_fit.ratings) == (4, 4, 5)
    assert current.mean_fit.value == pytest.approx(3.5 / 6)
    assert current.fit_share.value == pytest.approx(2 / 6)
    assert alternative.mean_fit.value == pytest.approx(1.0)
    # Every alternative rating is at the top: every resample of its 4 members gives 1.0, so its interval is the
    # exact (Clopper-Pearson) one for 4 of 4, [0.025 ** (1 / 4), 1] = [0.3976, 1].
    assert alternative.mean_fit.low == pytest.approx(0.3976354)
    assert alternative.mean_fit.high == 1.0
    assert alternative.mean_fit.interval == "exact"
    change = comparison.mean_fit_change
    assert (change.a, change.b) == ("current version (v2)", "alternative version (v1)")
    assert change.value == pytest.approx(1 - 3.5 / 6)
    assert change.low is not None and change.high is not None
    # The sides' intervals combined (MOVER): the alternative's 1 - 0.3976 counts below, unlike the paired
    # replicates' difference, which left it out (its replicates are all 1.0).
    low, high = current.mean_fit.low, current.mean_fit.high
    assert low is not None and high is not None
    assert change.interval == "combined"
    mean = 3.5 / 6
    assert change.low == pytest.approx((1 - mean) - ((1 - 0.3976354) ** 2 + (high - mean) ** 2) ** 0.5)
    assert change.high == pytest.approx((1 - mean) + (mean - low))
    assert -1.0 <= change.low < 0 < 1 - mean <= change.high <= 1.0
    assert comparison.fit_share_change is not None  # both arms on the 3-point scale
    assert comparison.fit_share_change.value == pytest.approx(1 - 2 / 6)
    assert comparison.note.startswith("With only 5 ratings on one side, read this as a hint.")
    assert "assigned to the versions at random" in comparison.note
    # The before/after comparison of versions leaves the randomized answers out: only answer 9 (v2) is there.
    assert [(group.label, group.mean_fit.ratings) for group in digest.versions.versions] == [("v2", 1)]


def test_a_clear_difference_with_enough_ratings_is_called_and_reported():
    answers = [in_arm(i, "7:current", 3, f"current-{i % 15}") for i in range(1, 41)]
    answers += [in_arm(i, "7:alternative", 4, f"alternative-{i % 15}") for i in range(41, 81)]
    ratings = [rating(i, f"rater{i % 9}", 1 if i % 4 else 2) for i in range(1, 41)]
    ratings += [rating(i, f"rater{i % 9}", 3 if i % 5 else 2) for i in range(41, 81)]
    digest = compute_digest(rows(answers, ratings), None, seed=1)

    [comparison] = digest.comparisons
    change = comparison.mean_fit_change
    assert change.low is not None and change.low > 0
    assert comparison.note.startswith(
        "Mean fit under the alternative version (v4) is higher than under the current version (v3)"
    )
    report = render_markdown(digest)
    assert "## Randomized comparisons of scope versions" in report
    assert "### Comparison \\#7" in report  # Markdown escapes the #
    assert "alternative version (v4) minus current version (v3): mean fit" in report
    assert json.loads(render_json(digest))["comparisons"][0]["comparison_id"] == 7
    embed = digest_embed(digest, None, "footer")
    assert any(field.name == "Randomized comparison #7" for field in embed.fields)


def test_one_rated_arm_has_nothing_to_compare():
    answers = [in_arm(1, "2:current", 1), in_arm(2, "2:alternative", 2)]
    digest = compute_digest(rows(answers, [rating(1, "ana", 3)]), None)

    [comparison] = digest.comparisons
    assert comparison.alternative.mean_fit.ratings == 0
    assert comparison.mean_fit_change.value is None
    assert comparison.note == (
        "Comparison #2: only the current version (v1) has rated answers in this period; nothing to compare yet."
    )


def test_without_comparisons_the_report_says_nothing_about_them():
    digest = compute_digest(rows([answer(1)], [rating(1, "ana", 3)]), None)

    assert digest.comparisons == ()
    report = render_markdown(digest)
    assert "## Randomized comparisons of scope versions" not in report


def test_intervals_resample_members_not_answers():
    """One member asked 30 of the alternative arm's answers: 30 ratings, but few members, so no strong claim."""
    answers = [in_arm(i, "4:current", 1, f"current-{i}") for i in range(1, 31)]
    answers += [in_arm(i, "4:alternative", 2, "busy" if i <= 60 else f"alt-{i}") for i in range(31, 64)]
    ratings = [rating(i, "rater", 1) for i in range(1, 31)]
    ratings += [rating(i, "rater", 3) for i in range(31, 64)]
    [comparison] = compute_digest(rows(answers, ratings), None, seed=2).comparisons

    alternative = comparison.alternative.mean_fit
    assert (alternative.answers, alternative.ratings) == (33, 33)
    assert comparison.mean_fit_change.value == pytest.approx(1.0)
    assert comparison.note.startswith("With only 4 asking members on one side, read this as a hint.")
    assert "Intervals resample members" in comparison.note


def test_one_member_per_arm_has_no_interval_however_many_answers():
    answers = [in_arm(i, "5:current", 1, "only-current") for i in range(1, 21)]
    answers += [in_arm(i, "5:alternative", 2, "only-alternative") for i in range(21, 41)]
    ratings = [rating(i, "rater", 1 + i % 3) for i in range(1, 41)]
    [comparison] = compute_digest(rows(answers, ratings), None).comparisons

    assert comparison.current.mean_fit.low is None and comparison.alternative.mean_fit.high is None
    assert comparison.mean_fit_change.value is not None and comparison.mean_fit_change.low is None
    assert comparison.note == (
        "Comparison #5: the difference has no interval: the current version (v1) has rated answers from one asking "
        "member only, who cannot be resampled; and the alternative version (v2) has rated answers from one asking "
        "member only, who cannot be resampled. Rated answers from this period."
    )


def test_arms_of_a_few_members_say_they_are_too_few_to_resample():
    """Three asking members in each arm (a comparison's first week): the note said "no resample of the members
    gave it a value", which is not why; the table said "too few asking members to resample"."""
    answers = [in_arm(i, "7:current", 1, f"c{i % 3}") for i in range(1, 13)]
    answers += [in_arm(i, "7:alternative", 2, f"a{i % 3}") for i in range(13, 25)]
    ratings = [rating(i, "rater", 1 + i % 3) for i in range(1, 25)]
    [comparison] = compute_digest(rows(answers, ratings), None).comparisons

    assert comparison.mean_fit_change.value is not None and comparison.mean_fit_change.low is None
    assert comparison.note == (
        "Comparison #7: the difference has no interval: the current version (v1) has rated answers from 3 asking "
        "members only, too few to resample (at least 5 are needed); and the alternative version (v2) has rated "
        "answers from 3 asking members only, too few to resample (at least 5 are needed). Rated answers from this "
        "period."
    )


def test_arms_without_any_rating_say_so():
    answers = [in_arm(1, "6:current", 1), in_arm(2, "6:alternative", 2)]
    [comparison] = compute_digest(rows(answers, []), None).comparisons

    assert (comparison.current.answers, comparison.alternative.answers) == (1, 1)
    assert comparison.note == "Comparison #6: no rated answers in either arm in this period yet."


def test_a_comparison_is_pooled_over_this_and_the_previous_period():
    # Comparison 1 ran last week too: its ratings there count, and a member who asked in both weeks is one member.
    def week(first_id: int, day: int) -> list[AnswerRow]:
        answers = [in_arm(first_id + i, "1:current", 2, f"c{i}") for i in range(3)]
        return answers + [in_arm(first_id + 3 + i, "1:alternative", 1, f"a{i}") for i in range(3)]

    before_answers = [dataclasses.replace(a, created_at="2026-11-10T10:00:00.000Z") for a in week(100, 10)]
    before_ratings = [rating(a.answer_id, "rater", 1 if a.arm == "1:current" else 3, day=11) for a in before_answers]
    now_answers = week(1, 17)
    now_ratings = [rating(a.answer_id, "rater", 2 if a.arm == "1:current" else 3) for a in now_answers]
    digest = compute_digest(rows(now_answers, now_ratings), rows(before_answers, before_ratings, previous=True), seed=2)

    [comparison] = digest.comparisons
    current, alternative = comparison.current, comparison.alternative
    assert (current.mean_fit.ratings, alternative.mean_fit.ratings) == (6, 6)
    assert current.answers == 6, "answers over the same periods as the ratings"
    for group in (current, alternative):
        assert group.mean_fit.answers <= group.answers
    assert current.mean_fit.value == pytest.approx((3 * 0 + 3 * 0.5) / 6)
    assert alternative.mean_fit.value == pytest.approx(1.0)
    assert "Rated answers from this and the previous period." in comparison.note
    # Alone, this period's slice says so too.
    [alone] = compute_digest(rows(now_answers, now_ratings), None, seed=2).comparisons
    assert alone.current.mean_fit.ratings == 3
    assert "Rated answers from this period." in alone.note
