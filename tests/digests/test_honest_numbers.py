"""Numbers that must not mislead: a scale change, answers too few for their ratings, rounding near the ends,
tags that disappeared (hand-computed fixtures; builders from test_stats.py)."""

from __future__ import annotations

import pytest

from bot.digests.formatting import percent
from bot.digests.report import render_markdown
from bot.digests.stats import compute_digest
from tests.digests.test_stats import answer, codes, rating, reason, rows


def test_a_scale_change_between_periods_is_flagged():
    # Previous period: every rating "Fits" on the 3-point scale; this one: every rating 4 of 5.
    before = rows(
        [answer(i, day=10) for i in range(40)],
        [rating(i, rater, 3, 3, day=11) for i in range(40) for rater in ("ana", "budi")],
        previous=True,
    )
    now = rows(
        [answer(100 + i) for i in range(40)], [rating(100 + i, r, 4, 5) for i in range(40) for r in ("ana", "budi")]
    )
    digest = compute_digest(now, before, bootstrap=200)
    # The top share falls 1 -> 0 and fit 1 -> 0.75, from the scale alone: the note says so, and, as between scope
    # versions, the fit share's change is not given (test_period_scales.py).
    assert digest.fit_share_change is None and digest.change_scales_differ
    assert digest.mean_fit_change is not None and digest.mean_fit_change.value == pytest.approx(-0.25)
    note = next(note.message for note in digest.notes if note.code == "scale_changed")
    assert note.startswith("The rating scale changed: 3-point in the previous period, 5-point in this one.")
    assert "mixed_scales" not in codes(digest), "each period has one scale"
    same = compute_digest(rows(now.answers, now.ratings), rows(before.answers, [], previous=True), bootstrap=50)
    assert "scale_changed" not in codes(same), "a previous period without ratings has no scale to differ from"


def test_many_ratings_of_few_answers_are_still_few():
    # 2 answers rated by 20 members each: 40 ratings, but the intervals resample 2 answers.
    raters = [f"m{k}" for k in range(20)]
    digest = compute_digest(
        rows([answer(1), answer(2)], [rating(a, r, 2 + a % 2) for a in (1, 2) for r in raters]), None
    )
    note = next(note.message for note in digest.notes if note.code == "small_n")
    assert note.startswith("Only 2 rated answers, for 40 ratings: the intervals resample answers")
    enough = compute_digest(
        rows([answer(i) for i in range(20)], [rating(i, r, 2) for i in range(20) for r in ("a", "b")]), None
    )
    assert "small_n" not in codes(enough)


def test_a_version_comparison_on_a_handful_of_answers_is_a_hint():
    # Versions 1 and 2 with 2 answers each, 20 ratings per answer: 40 ratings a side, 2 answers a side.
    raters = [f"m{k}" for k in range(20)]
    answers = [answer(1, version=1), answer(2, version=1), answer(3, version=2), answer(4, version=2)]
    ratings = [rating(a, r, 1 if a <= 2 else 3) for a in (1, 2, 3, 4) for r in raters]
    digest = compute_digest(rows(answers, ratings), None, bootstrap=200)
    assert digest.versions.note.startswith("With only 2 rated answers on one side, read this as a hint.")


@pytest.mark.parametrize(
    ("share", "shown"),
    [
        (None, "—"),
        (0.0, "0%"),
        (1.0, "100%"),
        (0.5, "50%"),
        (0.996, "99.6%"),
        (0.004, "0.4%"),
        (0.99996, ">99.9%"),
        (0.00004, "<0.1%"),
        (0.994, "99%"),
        (0.006, "1%"),
    ],
)
def test_percent_never_rounds_to_all_or_nothing(share, shown):
    assert percent(share) == shown


def test_a_near_perfect_share_is_not_reported_as_all():
    ratings = [rating(i, "ana", 3) for i in range(249)] + [rating(249, "ana", 2)]
    report = render_markdown(compute_digest(rows([answer(i) for i in range(250)], ratings), None, bootstrap=50))
    assert "Fit share: 99.6%" in report
    assert "| Partly fits | 1 | 0.4% |" in report


def test_tags_used_only_in_the_previous_period_are_listed():
    before = rows(
        [answer(1, day=10)],
        [rating(1, "ana", 1, day=11), rating(1, "budi", 2, day=11)],
        reasons=[reason(1, "ana", "too formal"), reason(1, "budi", "wrong register")],
        previous=True,
    )
    now = rows([answer(2)], [rating(2, "ana", 3)], reasons=[reason(2, "ana", "helpful")])
    digest = compute_digest(now, before, bootstrap=50)
    assert [(tag.tag, tag.count, tag.previous_count) for tag in digest.reasons] == [
        ("helpful", 1, 0),
        ("too formal", 0, 1),
        ("wrong register", 0, 1),
    ]


def test_periods_of_unequal_length_are_named_and_their_counts_put_per_day():
    """A monthly schedule compares a 31-day month with a 28-day one: the report said "the previous one of equal
    length", gave no dates for it, and changes in counts read as changes in activity."""
    import dataclasses

    from bot.digests.report import render_markdown
    from bot.digests.stats import compute_digest
    from tests.digests.test_stats import answer, rating, rows

    current = dataclasses.replace(
        rows([answer(1), answer(2)], [rating(1, "ana", 3), rating(2, "budi", 2)]),
        start="2026-11-01T00:00:00.000Z",
        end="2026-12-01T00:00:00.000Z",
    )
    previous = dataclasses.replace(
        rows([answer(3, day=10)], [rating(3, "ana", 3, day=11)], previous=True),
        start="2026-10-10T00:00:00.000Z",
        end="2026-11-01T00:00:00.000Z",
    )
    markdown = render_markdown(compute_digest(current, previous, bootstrap=50))
    assert "Compared with the previous period, 2026-10-10 00:00 UTC to 2026-11-01 00:00 UTC (end excluded)." in markdown
    assert "This period is 30 days long and the previous one 22 days" in markdown
    assert "Per day, 0.07 answers and 0.07 ratings against 0.05 and 0.05" in markdown
    assert "of equal length" not in markdown
    # Equal weeks: no such note.
    week = render_markdown(compute_digest(rows([answer(1)], [rating(1, "ana", 3)]), rows(previous=True), bootstrap=50))
    assert "long and the previous one" not in week
    assert "Compared with the previous period, 2026-11-09 00:00 UTC to 2026-11-16 00:00 UTC" in week


def test_the_previous_period_is_named_on_the_servers_clocks_too():
    from bot.digests.report import render_markdown
    from bot.digests.stats import compute_digest
    from tests.digests.test_stats import answer, rating, rows

    digest = compute_digest(rows([answer(1)], [rating(1, "ana", 3)]), rows(previous=True), timezone="Asia/Jakarta")
    assert (
        "Compared with the previous period, 2026-11-09 00:00 UTC to 2026-11-16 00:00 UTC (end excluded); "
        "2026-11-09 07:00 to 2026-11-16 07:00 Asia/Jakarta." in render_markdown(digest)
    )
