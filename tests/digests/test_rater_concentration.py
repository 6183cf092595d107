"""Rater concentration: the intervals resample answers, so when few members give most of the ratings they are
too narrow; a data-quality note says so, and "How to read this" states the limitation.

The rule (quality.CONCENTRATED_RATERS): the fewest members, the most active first, who together gave at least
half of the ratings; noted when they are at most a third of the members who rated (an even spread takes half of
them), with five or more raters and no one member above half (those cases have notes of their own).
"""

from __future__ import annotations

import numpy as np
import pytest

from bot.digests.report import render_markdown
from bot.digests.stats import compute_digest
from tests.digests.test_stats import answer, rating, rows


def period_with(per_member: list[int]):
    """Member m{k} rates answers 1..per_member[k] (one rating per member and answer), values varying."""
    answers = [answer(i) for i in range(1, max(per_member) + 1)]
    ratings = [rating(i, f"m{k}", 1 + (i + k) % 3) for k, count in enumerate(per_member) for i in range(1, count + 1)]
    return rows(answers, ratings)


def note(digest, code: str) -> str | None:
    return next((n.message for n in digest.notes if n.code == code), None)


def test_two_members_giving_119_of_300_ratings_are_reported():
    # 15 members: 60, 59, then twelve with 14 and one with 13 (300 ratings). Most active first, the running total
    # is 60, 119, 133, 147, 161: five members reach half (150), and five is a third of fifteen.
    per_member = [60, 59, *[14] * 12, 13]
    assert sum(per_member) == 300
    digest = compute_digest(period_with(per_member), None, bootstrap=50)
    message = note(digest, "concentrated_raters")
    assert message == (
        "The 5 most active members of the 15 who rated gave 54% of the ratings (161 of 300): the numbers lean on "
        "their views, and the intervals, which resample answers, may be too narrow (one member's ratings of "
        "different answers are not independent, and answers are the unit resampled)."
    )
    assert note(digest, "dominant_rater") is None  # 20% is no one member's majority
    assert message in render_markdown(digest)


@pytest.mark.parametrize(
    ("per_member", "expected"),
    [
        ([20] * 15, None),  # even: eight of fifteen reach half
        ([5] * 6, None),  # even: three of six
        ([10, 10, 1, 1, 1, 1], (2, 6, "83%", 20, 24)),  # 20 of 24 from two: two is a third of six
        ([10, 9, 8, 1, 1, 1], (2, 6, "63%", 19, 30)),  # 19 of 30: half is reached with the second
        ([9, 9, 9, 1, 1, 1], (2, 6, "60%", 18, 30)),  # running 9, 18: two reach half (15), a third of six
        ([12, 4, 4, 2, 1, 1], (1, 6, "50%", 12, 24)),  # exactly half from one member
        ([6, 6, 6, 6, 6, 1, 1, 1, 1, 1], (3, 10, "51%", 18, 35)),  # 18 of 35 >= 17.5 from three of ten
        ([6, 6, 6, 6, 6, 6, 1, 1, 1, 1], None),  # 18 of 40 < 20: four needed, more than a third of ten
    ],
)
def test_the_rule_by_hand(per_member, expected):
    from bot.digests.quality import rater_concentration  # new: imported here, not to fail the rest on old code

    found = rater_concentration(np.array(per_member))
    if expected is None:
        assert found is None
        return
    assert found is not None
    members, raters, share, given, total = expected
    who = "The most active member" if members == 1 else f"The {members} most active members"
    assert found.message.startswith(
        f"{who} of the {raters} who rated gave {share} of the ratings ({given} of {total}):"
    )


def test_members_who_gave_no_rating_do_not_count_as_raters():
    from bot.digests.quality import rater_concentration

    # A zero (a member code without ratings) is no rater: two of six, not two of seven.
    found = rater_concentration(np.array([10, 0, 10, 1, 1, 1, 1]))
    assert found is not None
    assert found.message.startswith("The 2 most active members of the 6 who rated gave 83% of the ratings")


def test_a_dominant_member_keeps_its_own_note_which_names_the_intervals():
    # 6 members: 26 of 40 ratings from m0 (65%).
    digest = compute_digest(period_with([26, 5, 3, 2, 2, 2]), None, bootstrap=50)
    assert note(digest, "concentrated_raters") is None
    assert note(digest, "dominant_rater") == (
        "One member gave 65% of the ratings: the averages mostly reflect one view, and the intervals, which "
        "resample answers, are likely too narrow (one member's ratings of different answers are not independent, "
        "and answers are the unit resampled)."
    )


def test_few_raters_have_their_own_note_instead():
    # 4 members, 10, 10, 1, 1: "only 4 members rated" says it, intervals included; no concentration note on top.
    digest = compute_digest(period_with([10, 10, 1, 1]), None, bootstrap=50)
    assert note(digest, "concentrated_raters") is None
    few = note(digest, "few_raters")
    assert few is not None and few.startswith("Only 4 members rated answers: the numbers describe them, not the")
    assert "the intervals, which resample answers, are likely too narrow" in few


def test_how_to_read_states_the_limitation():
    digest = compute_digest(period_with([20] * 15), None, bootstrap=50)
    assert note(digest, "concentrated_raters") is None
    reading = render_markdown(digest).split("## How to read this")[1]
    assert (
        "Answers are the unit: ratings by the same member across answers are not independent either, and "
        "resampling answers does not allow for that, so the intervals may be too narrow when few members give "
        "most of the ratings"
    ) in reading
