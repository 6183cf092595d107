"""A group with one rated answer has no interval (one answer has nothing to resample), and the digest says why:
`Estimate.interval` "one_answer", a difference against it too, the version note, a data-quality note, the reports.

Fixtures, by hand (3-point scale: "Fits" 3 is fit 1, "Partly fits" 2 is 0.5, "Does not fit" 1 is 0):

    previous period: answers 101-104 rated 3, 1, 3, 3: mean fit 0.75, fit share 0.75.
    this period:     answer 1 rated 2: mean fit 0.5, fit share 0. Changes: mean −0.25, share −75 points.
"""

from __future__ import annotations

import json

import numpy as np

from bot.digests import formatting as fmt
from bot.digests.estimates import Fit, difference, estimate
from bot.digests.model import Estimate
from bot.digests.report import render_json, render_markdown
from bot.digests.stats import compute_digest
from tests.digests.test_stats import answer, rating, rows


def previous_four():
    return rows(
        [answer(100 + i, day=10) for i in range(1, 5)],
        [rating(100 + i, f"m{i}", value, day=11) for i, value in zip(range(1, 5), (3, 1, 3, 3), strict=True)],
        previous=True,
    )


def test_one_unit_gets_the_one_answer_reason():
    assert estimate(0.5, None, None, False, 1, 1, 2) == Estimate(0.5, None, None, 1, 2, "one_answer")
    # Two to four units: too few to resample (a percentile interval from them takes a handful of values), but for
    # the exact interval at 0 or 1; five keep the bootstrap's interval.
    assert estimate(0.5, 0.25, 0.75, False, 2, 2, 2) == Estimate(0.5, None, None, 2, 2, "few_answers")
    assert estimate(0.5, 0.25, 0.75, False, 4, 4, 8) == Estimate(0.5, None, None, 4, 8, "few_answers")
    assert estimate(1.0, 1.0, 1.0, True, 2, 2, 2).interval == "exact"
    assert estimate(0.5, 0.25, 0.75, False, 5, 5, 5) == Estimate(0.5, 0.25, 0.75, 5, 5, "bootstrap")


def test_a_difference_against_one_answer_names_the_reason():
    one = Fit(Estimate(0.5, None, None, 1, 1, "one_answer"), Estimate(0.0, None, None, 1, 1, "one_answer"), np.empty(0))
    many = Fit(Estimate(0.75, 0.5, 1.0, 4, 4), Estimate(0.75, 0.25, 1.0, 4, 4), np.full((2, 10), 0.75))
    change = difference(many, one, 0, "previous period", "this period")
    assert (change.value, change.low, change.high, change.interval) == (-0.25, None, None, "one_answer")
    assert fmt.fit_change(change) == "−0.25 (no interval: a side has one rated answer)"
    share = difference(many, one, 1, "previous period", "this period")
    assert fmt.share_change(share) == "−75 pts (no interval: a side has one rated answer)"
    # Every resample alike on a side: its reason is named too.
    alike = Fit(Estimate(0.5, None, None, 6, 6, "no_spread"), Estimate(0.0, 0.0, 0.4, 6, 6, "exact"), np.empty(0))
    assert fmt.fit_change(difference(many, alike, 0, "a", "b")) == (
        "−0.25 (no interval: every resample of a side gives the same value)"
    )


def test_a_period_with_one_rated_answer_says_why_it_has_no_interval():
    digest = compute_digest(rows([answer(1)], [rating(1, "ana", 2)]), previous_four())

    assert digest.current.fit.mean_fit == Estimate(0.5, None, None, 1, 1, "one_answer")
    assert digest.mean_fit_change is not None and digest.mean_fit_change.interval == "one_answer"
    [note] = [note.message for note in digest.notes if note.code == "one_answer"]
    assert note == (
        "This period has one rated answer: a bootstrap resamples answers, and one answer has nothing to resample, "
        "so its fit has no interval, nor has the change versus the previous period (one answer: no interval)."
    )
    markdown = render_markdown(digest)
    assert "- Fit share: 0% (no interval: one rated answer)" in markdown
    # The Summary does not headline a change resting on one answer as a number; Fit distribution gives it.
    assert (
        "- Versus the previous period: no change stated, it rests on too few ratings (a side has one rated answer); "
        "the Fit distribution section gives the numbers"
    ) in markdown
    assert (
        "Change: fit share −75 pts (no interval: a side has one rated answer); mean fit −0.25 (no interval: a side "
        "has one rated answer)."
    ) in markdown.split("## Fit distribution")[1]
    assert "(no interval)" not in markdown
    assert 'digest.json marks its interval "one\\_answer"' in markdown.split("## How to read this")[1]
    plain = json.loads(render_json(digest))
    assert plain["current"]["fit"]["fit_share"]["interval"] == "one_answer"
    assert plain["fit_share_change"]["interval"] == "one_answer"
    # The previous period's day has four rated answers: too few to resample.
    assert [point["mean_fit"]["interval"] for point in plain["timeline"]] == ["few_answers", "one_answer"]


def test_without_a_previous_period_the_note_claims_no_change():
    digest = compute_digest(rows([answer(1)], [rating(1, "ana", 2)]), None)
    [note] = [note.message for note in digest.notes if note.code == "one_answer"]
    assert note.endswith("so its fit has no interval (one answer: no interval).")


def test_a_previous_period_with_one_rated_answer_says_its_changes_have_none():
    now = rows([answer(i) for i in range(1, 5)], [rating(i, f"m{i}", 1 + i % 3) for i in range(1, 5)])
    before = rows([answer(101, day=10)], [rating(101, "ana", 3, day=11)], previous=True)
    digest = compute_digest(now, before)
    [note] = [note.message for note in digest.notes if note.code == "one_answer"]
    assert note == (
        "The previous period has one rated answer: a bootstrap resamples answers, and one answer has nothing to "
        "resample, so the changes against it have no interval (one answer: no interval)."
    )


def test_a_scope_version_with_one_rated_answer_is_named_in_the_version_note():
    # v1: answer 1 rated 2; v2: answers 2-6 rated 3, 1, 3, 2, 2.
    answers = [answer(1, version=1)] + [answer(i, version=2) for i in range(2, 7)]
    ratings = [rating(1, "ana", 2)] + [rating(i, f"m{i}", v) for i, v in zip(range(2, 7), (3, 1, 3, 2, 2), strict=True)]
    digest = compute_digest(rows(answers, ratings), None)

    versions = digest.versions
    assert [group.mean_fit.interval for group in versions.versions] == ["one_answer", "bootstrap"]
    assert versions.mean_fit_change is not None and versions.mean_fit_change.interval == "one_answer"
    assert versions.note.startswith(
        "v2 versus v1 in this period: v1 has one rated answer, which a bootstrap cannot resample, so the "
        "difference has no interval."
    )
    section = render_markdown(digest).split("## Did the last scope change help?")[1].split("\n## ")[0]
    assert (
        "| v1 | 3-point | 1 | 1 | 1 | 0% (no interval: one rated answer) | 0.50 (no interval: one rated answer) |"
        in (section)
    )
    # +0.10 (v2: (1 + 0 + 1 + 0.5 + 0.5) / 5 = 0.6, v1: 0.5) and +40 points (v2: 2 of 5 at the top, v1: none).
    assert (
        "v2 minus v1, this period: mean fit +0.10 (no interval: a side has one rated answer); fit share +40 pts "
        "(no interval: a side has one rated answer)."
    ) in section
