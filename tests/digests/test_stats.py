"""The digest's numbers against hand-computed fixtures (stats, bootstrap, agreement, themes, text).

The builders at the top are shared with test_report.py.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from collections.abc import Iterable

import numpy as np
import pytest

from bot.digests import bootstrap as bootstrap_module
from bot.digests.agreement import krippendorff_alpha
from bot.digests.bootstrap import (
    Clusters,
    Grouping,
    grouped_replicates,
    percentile_interval,
    percentile_intervals,
    ratios,
    rng_for,
    whole,
)
from bot.digests.estimates import grouped
from bot.digests.groups import bucket_grouping, timeline, week_of
from bot.digests.model import Digest, Estimate
from bot.digests.periods import prepare
from bot.digests.report import render_markdown
from bot.digests.rows import AnswerRow, AuditRow, CommentRow, DigestRows, RatingRow, ReasonRow
from bot.digests.stats import compute_digest, fit_timeline
from bot.digests.summary import digest_embed
from bot.digests.text import ZERO_WIDTH_SPACE, excerpt, safe_text
from bot.digests.themes import find_themes, is_content_word, tokenize

START = "2026-11-16T00:00:00.000Z"
END = "2026-11-23T00:00:00.000Z"
PREVIOUS_START = "2026-11-09T00:00:00.000Z"

# ---------------------------------------------------------------------------------------------- builders


def member(name: str) -> str:
    """A stand-in keyed hash: 32 hex characters derived from a readable name."""
    return (name.encode().hex() + "0" * 32)[:32]


def answer(
    answer_id: int,
    *,
    channel: int = 100,
    version: int | None = 1,
    language: str | None = "en",
    setting: str | None = None,
    outcome: str = "ok",
    question: str = "How do I greet my manager?",
    text: str = "It depends on the setting and the relationship.",
    day: int = 17,
) -> AnswerRow:
    return AnswerRow(
        answer_id=answer_id,
        channel_id=channel,
        created_at=f"2026-11-{day:02d}T10:00:00.000Z",
        asker_hash=member("asker"),
        question=question,
        answer=text,
        outcome=outcome,
        scope_version=version,
        language=language,
        setting=setting,
        tokens_in=100,
        tokens_out=200,
        tokens_estimated=False,
        ttft_ms=300,
        total_ms=900,
    )


def rating(answer_id: int, rater: str, value: int, scale: int = 3, *, day: int = 18) -> RatingRow:
    stamp = f"2026-11-{day:02d}T12:00:00.000Z"
    return RatingRow(answer_id, member(rater), value, scale, False, "button", stamp, stamp)


def comment(comment_id: int, answer_id: int, rater: str, text: str, *, quotable: bool = True) -> CommentRow:
    return CommentRow(comment_id, answer_id, member(rater), text, quotable, "2026-11-18T13:00:00.000Z")


def reason(answer_id: int, rater: str, tag: str) -> ReasonRow:
    return ReasonRow(answer_id, member(rater), tag)


def rows(
    answers: Iterable[AnswerRow] = (),
    ratings: Iterable[RatingRow] = (),
    *,
    reasons: Iterable[ReasonRow] = (),
    comments: Iterable[CommentRow] = (),
    audit: Iterable[AuditRow] = (),
    declined: int = 0,
    withdrew: int = 0,
    previous: bool = False,
    guild_name: str = "Kopi Club",
) -> DigestRows:
    return DigestRows(
        guild_id=42,
        guild_name=guild_name,
        start=PREVIOUS_START if previous else START,
        end=START if previous else END,
        answers=list(answers),
        ratings=list(ratings),
        reasons=list(reasons),
        comments=list(comments),
        audit=list(audit),
        declined=declined,
        withdrew=withdrew,
    )


def codes(digest: Digest) -> set[str]:
    return {note.code for note in digest.notes}


def contains(estimate: Estimate) -> bool:
    assert estimate.value is not None and estimate.low is not None and estimate.high is not None
    return estimate.low - 1e-12 <= estimate.value <= estimate.high + 1e-12


# ---------------------------------------------------------------------------------------------- edge cases


def test_empty_period():
    digest = compute_digest(rows(), None)
    d = digest.current.denominators
    assert (d.answers, d.rated_answers, d.ratings, d.unique_raters, d.comments) == (0, 0, 0, 0, 0)
    assert d.share_rated is None
    assert d.answers_by_outcome == {"ok": 0, "incomplete": 0, "failed": 0, "refused": 0}
    fit = digest.current.fit
    assert fit.distribution == ()
    assert fit.mean_fit == Estimate(None, None, None, 0, 0)
    assert fit.fit_share == Estimate(None, None, None, 0, 0)
    assert all(breakdown.groups == () for breakdown in digest.breakdowns)
    assert digest.lowest_fit == () and digest.quotes == () and digest.reasons == () and digest.timeline == ()
    assert digest.disagreement.multi_rated_answers == 0 and digest.disagreement.alpha is None
    assert "not reported: no answer was rated by two or more members" in digest.disagreement.alpha_sentence
    assert "- Rated: nothing (no answer that could be rated, no rating)\n" in render_markdown(digest)
    assert digest.themes.themes == () and digest.themes.note is not None
    assert digest.versions.latest is None and "nothing to compare" in digest.versions.note
    assert {"no_previous", "empty"} <= codes(digest)
    json.dumps(digest.to_dict())  # serialisable even when empty


def test_empty_period_against_empty_previous():
    digest = compute_digest(rows(), rows(previous=True))
    assert digest.previous is not None and digest.previous.denominators.ratings == 0
    assert digest.mean_fit_change is not None and digest.mean_fit_change.value is None
    assert "no_previous" not in codes(digest)


def test_a_previous_period_without_ratings_is_said_so_not_shown_as_a_dash():
    """A server's first digest: the previous period's rows are read, and hold no rating. The embed said "versus the
    previous period —", with no note saying why."""
    now = rows([answer(i) for i in range(40)], [rating(i, f"m{i % 8}", i % 3 + 1) for i in range(40)])
    digest = compute_digest(now, rows(previous=True), bootstrap=50)
    [note] = [note.message for note in digest.notes if note.code == "no_previous"]
    assert note == "The previous period has no ratings to compare with: changes are not shown."
    [fit] = [field.value for field in digest_embed(digest, None, "").fields if field.name == "Fit"]
    assert str(fit).endswith("\nNo ratings in the previous period to compare with.") and "—" not in str(fit)
    assert "- Versus the previous period: no ratings in the previous period to compare with\n" in render_markdown(
        digest
    )


def test_a_small_previous_period_gets_a_note():
    now = rows([answer(i) for i in range(40)], [rating(i, f"m{i % 8}", i % 3 + 1) for i in range(40)] * 1)
    tiny = rows([answer(900, day=10)], [rating(900, "ana", 3, day=11)], previous=True)
    digest = compute_digest(now, tiny, bootstrap=50)
    [note] = [note for note in digest.notes if note.code == "small_previous"]
    assert note.message.startswith("The previous period had only 1 rating of 1 answer from 1 member:")
    # A previous period as large as this one gets none.
    alike = rows(
        [dataclasses.replace(answer(500 + i), created_at="2026-11-10T10:00:00.000Z") for i in range(40)],
        [rating(500 + i, f"m{i % 8}", i % 3 + 1, day=11) for i in range(40)],
        previous=True,
    )
    assert "small_previous" not in codes(compute_digest(now, alike, bootstrap=50))


def test_one_rating():
    # One answer rated "Partly fits" (2 of 3): fit (2 - 1) / (3 - 1) = 0.5, not at the top value.
    digest = compute_digest(rows([answer(1)], [rating(1, "ana", 2)]), None)
    fit = digest.current.fit
    assert fit.mean_fit == Estimate(0.5, None, None, 1, 1, "one_answer")  # nothing to resample: no interval
    assert fit.fit_share == Estimate(0.0, None, None, 1, 1, "one_answer")
    assert [(s.scale_size, s.counts) for s in fit.distribution] == [(3, (0, 1, 0))]
    d = digest.current.denominators
    assert (d.answers, d.rated_answers, d.share_rated, d.ratings, d.unique_raters) == (1, 1, 1.0, 1, 1)
    assert {"small_n", "few_raters"} <= codes(digest)
    assert "dominant_rater" not in codes(digest)  # one member is "few raters", not a dominant one
    assert "all_equal" not in codes(digest)  # a single rating is trivially equal to itself
    (low,) = digest.lowest_fit
    assert (low.answer_id, low.ratings, low.mean_fit, low.rating_counts) == (1, 1, 0.5, {"2/3": 1})
    assert digest.disagreement.multi_rated_answers == 0


def test_a_few_answers_rated_alike_get_no_interval_of_zero_width():
    # A group of two answers, both rated at the top by one member, beside a varied one.
    answers = [answer(i, language="en") for i in range(40)] + [answer(90, language="id"), answer(91, language="id")]
    ratings = [rating(i, f"m{i % 8}", i % 3 + 1) for i in range(40)] + [rating(90, "ana", 3), rating(91, "ana", 3)]
    digest = compute_digest(rows(answers, ratings), None, bootstrap=200)
    language = next(b for b in digest.breakdowns if b.dimension == "language")
    indonesian = next(g for g in language.groups if g.key == "id")
    # Every resample gives 1.0: the exact (Clopper-Pearson) interval for 2 of 2, [0.025 ** (1 / 2), 1].
    assert indonesian.mean_fit.low == pytest.approx(0.1581139)
    assert indonesian.mean_fit.high == 1.0
    assert "100% (every rating at the top: exact 95% CI 15–100%)" in render_markdown(digest)
    english = next(g for g in language.groups if g.key == "en")
    low, high = english.mean_fit.low, english.mean_fit.high
    assert low is not None and high is not None and low < high


def test_all_ratings_equal():
    answers = [answer(i) for i in (1, 2, 3)]
    ratings = [rating(i, rater, 3) for i in (1, 2, 3) for rater in ("ana", "budi")]
    digest = compute_digest(rows(answers, ratings), None)
    fit = digest.current.fit
    assert fit.all_equal
    # Every resample has the same value, 1: not an interval of zero width but the exact (Clopper-Pearson) one
    # for 3 of 3 answers, [0.025 ** (1 / 3), 1] = [0.2924, 1] (a note says why).
    assert fit.mean_fit == Estimate(1.0, 0.025 ** (1 / 3), 1.0, 3, 6, "exact")
    assert fit.fit_share == Estimate(1.0, 0.025 ** (1 / 3), 1.0, 3, 6, "exact")
    assert fit.mean_fit.low == pytest.approx(0.2924018)
    assert {"all_equal", "no_spread"} <= codes(digest)
    # Three answers rated by two members are too few for alpha.
    assert digest.disagreement.alpha is None
    assert "only 3 answers were rated by two or more members" in digest.disagreement.alpha_sentence
    assert digest.disagreement.split_answers == 0


def test_alpha_undefined_when_every_pairable_rating_is_equal():
    answers = [answer(i) for i in range(12)]
    ratings = [rating(i, rater, 2) for i in range(12) for rater in ("ana", "budi")]
    digest = compute_digest(rows(answers, ratings), None)
    assert digest.disagreement.alpha is None
    assert "undefined" in digest.disagreement.alpha_sentence
    assert digest.disagreement.alpha_units == 12 and digest.disagreement.alpha_values == 24


def test_single_rater():
    # One member rates 40 answers: 10 × 3, 20 × 2, 10 × 1 on the 3-point scale.
    values = [3] * 10 + [2] * 20 + [1] * 10
    answers = [answer(i) for i in range(40)]
    ratings = [rating(i, "ana", value) for i, value in enumerate(values)]
    digest = compute_digest(rows(answers, ratings), None)
    fit = digest.current.fit
    # Mean fit (10 × 1 + 20 × 0.5 + 10 × 0) / 40 = 0.5; fit share 10 / 40 = 0.25.
    assert fit.mean_fit.value == pytest.approx(0.5)
    assert fit.fit_share.value == pytest.approx(0.25)
    assert contains(fit.mean_fit) and contains(fit.fit_share)
    assert "few_raters" in codes(digest) and "small_n" not in codes(digest)
    assert "dominant_rater" not in codes(digest)
    assert digest.disagreement.multi_rated_answers == 0
    assert "Only 1 member rated" in next(n.message for n in digest.notes if n.code == "few_raters")


def test_ties_in_lowest_fit_rank_by_mean_then_ratings_then_id():
    answers = [answer(i) for i in (1, 2, 3, 4)]
    ratings = [
        rating(1, "ana", 1),  # mean 0 from 1 rating
        *(rating(2, rater, 1) for rater in ("ana", "budi", "citra")),  # mean 0 from 3
        *(rating(3, rater, 1) for rater in ("ana", "budi", "citra")),  # mean 0 from 3, higher id
        rating(4, "ana", 2),  # mean 0.5
    ]
    digest = compute_digest(rows(answers, ratings), None)
    assert [note.answer_id for note in digest.lowest_fit] == [2, 3, 1, 4]
    assert [note.mean_fit for note in digest.lowest_fit] == [0.0, 0.0, 0.0, 0.5]


def test_mixed_three_and_five_point_scales():
    # 3-point 3, 2, 1 → fit 1, 0.5, 0; 5-point 5, 4, 2, 1 → fit 1, 0.75, 0.25, 0.
    answers = [answer(i) for i in range(7)]
    ratings = [
        rating(0, "ana", 3),
        rating(1, "ana", 2),
        rating(2, "ana", 1),
        rating(3, "ana", 5, 5),
        rating(4, "ana", 4, 5),
        rating(5, "ana", 2, 5),
        rating(6, "ana", 1, 5),
    ]
    digest = compute_digest(rows(answers, ratings), None)
    fit = digest.current.fit
    assert fit.mean_fit.value == pytest.approx(3.5 / 7)  # (1 + 0.5 + 0 + 1 + 0.75 + 0.25 + 0) / 7 = 0.5
    assert fit.fit_share.value == pytest.approx(2 / 7)  # 3 of 3 and 5 of 5
    assert [(s.scale_size, s.counts) for s in fit.distribution] == [(3, (1, 1, 1)), (5, (1, 1, 0, 1, 1))]
    assert "mixed_scales" in codes(digest)


def test_unicode_and_very_long_comments_are_excerpted_and_defused():
    long_text = ("Cái này quá trang trọng, sếp của tôi sẽ thấy kỳ. " * 300).strip()  # ~15,000 characters
    decomposed = unicodedata.normalize(
        "NFD", "Chào anh, xưng hô như vậy không đúng ở miền Nam 🙏 <@123456789> @everyone"
    )
    # A public question whose asker allows quoting: shown (tests/digests/test_question_privacy.py: the others).
    answers = [
        dataclasses.replace(
            answer(1, question="Chào sếp thế nào? <@&55> @here", text="Trả lời " * 200), question_quotable=True
        )
    ]
    ratings = [rating(1, "ana", 1), rating(1, "budi", 1)]
    comments = [comment(1, 1, "ana", long_text), comment(2, 1, "budi", decomposed)]
    digest = compute_digest(rows(answers, ratings, comments=comments), None)
    (note,) = digest.lowest_fit
    assert len(note.answer_excerpt) <= 300 and note.answer_excerpt.endswith("…")
    assert note.answer_excerpt[:-1] == note.answer_excerpt[:-1].rstrip()  # cut on a word boundary
    assert note.question == f"Chào sếp thế nào? @role @{ZERO_WIDTH_SPACE}here"
    first, second = note.comments
    assert len(first.text) <= 1000 and first.text.endswith("…")
    assert long_text.startswith(first.text[:-1])
    assert "<@" not in second.text and "@member" in second.text and f"@{ZERO_WIDTH_SPACE}everyone" in second.text
    assert {quote.text for quote in digest.quotes} >= {second.text}
    assert all(len(quote.text) <= 500 for quote in digest.quotes)
    dumped = json.dumps(digest.to_dict(), ensure_ascii=False)
    assert "<@" not in dumped and "@everyone" not in dumped and "@here" not in dumped


# ---------------------------------------------------------------------------------------------- bootstrap


def test_cluster_bootstrap_resamples_answers_not_ratings():
    # Six answers with ten ratings each, all "Fits" on three and all "Does not fit" on the other three.
    # Resampling answers, a replicate's mean is k/6 with k ~ Binomial(6, 1/2): P(k <= 1) = 7/64 and P(k >= 5) =
    # 7/64, both above 2.5%, so the 95% interval reaches 1/6 and 5/6 (or beyond). Resampling the 60 ratings as if
    # independent would give about 0.37 to 0.63.
    answers = [answer(i) for i in range(1, 7)]
    ratings = [rating(i, f"m{k}", 3 if i <= 3 else 1) for i in range(1, 7) for k in range(10)]
    fit = compute_digest(rows(answers, ratings), None).current.fit
    mean = fit.mean_fit
    assert (mean.value, mean.answers, mean.ratings, mean.interval) == (0.5, 6, 60, "bootstrap")
    assert mean.low is not None and mean.high is not None
    assert 0 <= mean.low <= 1 / 6 + 1e-9 and 5 / 6 - 1e-9 <= mean.high <= 1


def test_bootstrap_is_deterministic_for_a_seed_and_contains_the_estimate():
    values = [3, 1, 2, 3, 3, 2, 1, 3, 2, 3, 3, 1]
    answers = [answer(i) for i in range(len(values))]
    ratings = [rating(i, rater, value) for i, value in enumerate(values) for rater in ("ana", "budi")]
    ratings += [rating(i, "citra", 2) for i in range(0, len(values), 2)]
    data = rows(answers, ratings)
    first = compute_digest(data, None, seed=7)
    again = compute_digest(data, None, seed=7)
    other = compute_digest(data, None, seed=8)
    assert first.to_dict() == again.to_dict()
    assert first.current.fit.mean_fit != other.current.fit.mean_fit  # same point, different resamples
    assert first.current.fit.mean_fit.value == other.current.fit.mean_fit.value
    for estimate in (first.current.fit.mean_fit, first.current.fit.fit_share):
        assert contains(estimate) and 0 <= estimate.low <= estimate.high <= 1  # type: ignore[operator]
    for breakdown in first.breakdowns:
        for group in breakdown.groups:
            if group.mean_fit.low is not None:
                assert contains(group.mean_fit)


def test_grouped_replicates_draw_as_many_answers_as_there_are():
    counts = np.array([1.0, 2.0, 3.0, 4.0])
    clusters = Clusters(counts, np.vstack([counts * 0.5, counts]))
    grouping = Grouping(np.array([0, 0, 1, -1]), 2)
    overall, groups = grouped_replicates(clusters, [whole(4), grouping], 200, rng_for(1, "test"))
    assert overall.shape == (1, 3, 200) and groups.shape == (2, 3, 200)
    # Ratings drawn per replicate vary, but each replicate's statistic 0 is exactly half the ratings.
    assert np.allclose(overall[0, 1], overall[0, 0] * 0.5)
    assert np.allclose(ratios(overall[0])[0], 0.5)
    # The answer in no group (-1) never counts in a group's totals: groups add up to less than overall.
    assert np.all(groups[:, 0].sum(axis=0) <= overall[0, 0])


@pytest.mark.parametrize("small", [True, False])
def test_grouped_replicates_draw_uniformly_with_either_index_type(monkeypatch: pytest.MonkeyPatch, small: bool):
    if not small:
        monkeypatch.setattr(bootstrap_module, "_SMALL_DRAWS", 0)  # the 64-bit draws of periods over 65,536 answers
    n = 50
    clusters = Clusters(np.ones(n), np.arange(n, dtype=np.float64)[None, :])
    (overall,) = grouped_replicates(clusters, [whole(n)], 4000, rng_for(2, "test"))
    assert np.all(overall[0, 0] == n)  # each replicate draws n answers of one rating each
    # The mean drawn index is uniform's (n - 1) / 2 with standard error sqrt((n^2 - 1) / 12 / n / 4000).
    means = overall[0, 1] / n
    assert abs(means.mean() - (n - 1) / 2) < 4 * np.sqrt((n * n - 1) / 12 / n / 4000)
    assert means.std() == pytest.approx(np.sqrt((n * n - 1) / 12 / n), rel=0.1)


@pytest.mark.parametrize("n", [1, 7, 1044, 70_000])
def test_draws_counted_many_rows_at_once_are_the_ones_counted_row_by_row(monkeypatch: pytest.MonkeyPatch, n: int):
    rng = np.random.default_rng(11)
    clusters = Clusters(rng.integers(1, 6, n).astype(np.float64), rng.random((2, n)))
    groupings = [whole(n), Grouping(rng.integers(-1, 4, n), 4)]
    together = grouped_replicates(clusters, groupings, 300, rng_for(3, "test"))
    monkeypatch.setattr(bootstrap_module, "_COUNT_BINS", 1)  # one bincount per row
    by_row = grouped_replicates(clusters, groupings, 300, rng_for(3, "test"))
    for a, b in zip(together, by_row, strict=True):
        assert np.array_equal(a, b)


def test_percentile_intervals_match_numpy_and_skip_missing_replicates():
    rng = np.random.default_rng(3)
    values = rng.random((2, 500))
    values[1, :100] = np.nan
    low, high = percentile_intervals(values)
    expected = np.quantile(values[0], [0.025, 0.975])
    assert low[0] == pytest.approx(expected[0]) and high[0] == pytest.approx(expected[1])
    expected = np.quantile(values[1, 100:], [0.025, 0.975])
    assert low[1] == pytest.approx(expected[0]) and high[1] == pytest.approx(expected[1])
    assert percentile_interval(np.array([np.nan, np.nan])) is None
    assert percentile_interval(np.array([1.0, 2.0, 3.0])) == pytest.approx((1.05, 2.95))


# ---------------------------------------------------------------------------------------------- agreement

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", reliability data with 4 observers and
# 12 units (None: missing), values 1..5. Published: nominal 0.743, ordinal 0.815, interval 0.849.
RELIABILITY_DATA = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _units_values() -> tuple[np.ndarray, np.ndarray]:
    units = [u for row in RELIABILITY_DATA for u, value in enumerate(row) if value is not None]
    values = [value for row in RELIABILITY_DATA for value in row if value is not None]
    return np.array(units, dtype=np.int64), np.array(values, dtype=np.float64)


@pytest.mark.parametrize(("metric", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_alpha_matches_the_published_example(metric, published):
    units, values = _units_values()
    result = krippendorff_alpha(units, values, metric)
    assert result.alpha is not None and round(result.alpha, 3) == published
    assert (result.units, result.values) == (11, 40)  # unit 12 has one value: not pairable


def test_krippendorff_alpha_small_cases_by_hand():
    # Units {1, 2} and {2, 1}: o_12 = o_21 = 2, n_1 = n_2 = 2, n = 4; ordinal delta²_12 = (n_1 + n_2 -
    # (n_1 + n_2) / 2)² = 4. alpha = 1 - (n - 1) · Σ o δ² / Σ n_c n_k δ² = 1 - 3 · 16 / 32 = -0.5.
    result = krippendorff_alpha(np.array([0, 0, 1, 1]), np.array([1.0, 2.0, 2.0, 1.0]), "ordinal")
    assert result.alpha == pytest.approx(-0.5)
    # Units {1, 1} and {2, 2}: no observed disagreement, alpha = 1.
    assert krippendorff_alpha(np.array([0, 0, 1, 1]), np.array([1.0, 1.0, 2.0, 2.0])).alpha == pytest.approx(1.0)
    # Ordinal alpha only depends on the order of the values: 0..1 fit values give the same result.
    units, values = _units_values()
    assert krippendorff_alpha(units, (values - 1) / 4).alpha == pytest.approx(krippendorff_alpha(units, values).alpha)


def test_digest_alpha_on_the_published_example():
    # The same data as ratings: units are answers, observers are members, values on the 5-point scale.
    answers = [answer(unit) for unit in range(12)]
    ratings = [
        rating(unit, f"observer{observer}", value, 5)
        for observer, row in enumerate(RELIABILITY_DATA)
        for unit, value in enumerate(row)
        if value is not None
    ]
    disagreement = compute_digest(rows(answers, ratings), None).disagreement
    assert disagreement.alpha is not None and round(disagreement.alpha, 3) == 0.815
    assert (disagreement.alpha_units, disagreement.alpha_values, disagreement.alpha_raters) == (11, 40, 4)
    assert disagreement.alpha_low is not None and disagreement.alpha_high is not None
    assert disagreement.alpha_low < disagreement.alpha < disagreement.alpha_high
    assert (
        f"Krippendorff's alpha (ordinal) is 0.82 (95% CI {disagreement.alpha_low:.2f} to "
        f"{disagreement.alpha_high:.2f}) over 11 answers" in disagreement.alpha_sentence
    )


def test_split_ratings():
    answers = [answer(i) for i in range(4)]
    ratings = [
        rating(0, "ana", 3),
        rating(0, "budi", 1),  # top and bottom: split
        rating(1, "ana", 3),
        rating(1, "budi", 2),  # one step of a 3-point scale: not split
        rating(2, "ana", 5, 5),
        rating(2, "budi", 2, 5),  # three steps of five: at least half the scale, split
        rating(3, "ana", 5, 5),
        rating(3, "budi", 3, 5),  # two steps: not split
    ]
    disagreement = compute_digest(rows(answers, ratings), None).disagreement
    assert (disagreement.multi_rated_answers, disagreement.split_answers) == (4, 2)
    assert disagreement.split_share == 0.5
    # Wider spread first: answer 0 spans the whole scale (1.0), answer 2 three quarters of it.
    assert [note.answer_id for note in disagreement.examples] == [0, 2]


# ---------------------------------------------------------------------------------------------- comparisons


def test_change_against_previous_period_and_breakdowns():
    previous = rows(
        [answer(10, language="id"), answer(11, language="en")],
        [rating(10, "ana", 1), rating(10, "budi", 1), rating(11, "ana", 1)],
        reasons=[reason(10, "ana", "too generic")],
        previous=True,
    )
    current = rows(
        [answer(1, language="id"), answer(2, language="id"), answer(3, language="en")],
        [rating(1, "ana", 3), rating(2, "ana", 3), rating(3, "ana", 2), rating(3, "budi", 2)],
        reasons=[reason(1, "ana", "useful"), reason(3, "budi", "too generic"), reason(3, "dewi", "too generic")],
    )
    digest = compute_digest(current, previous)
    assert digest.previous is not None
    assert digest.previous.fit.mean_fit.value == 0.0
    # This period: (1 + 1 + 0.5 + 0.5) / 4 = 0.75; the change is +0.75 on mean fit, +50 points on fit share.
    assert digest.current.fit.mean_fit.value == pytest.approx(0.75)
    assert digest.mean_fit_change is not None and digest.mean_fit_change.value == pytest.approx(0.75)
    assert digest.fit_share_change is not None and digest.fit_share_change.value == pytest.approx(0.5)
    language = digest.breakdown("language")
    assert language is not None
    by_key = {group.key: group for group in language.groups}
    assert by_key["id"].mean_fit.value == 1.0 and by_key["id"].answers == 2 and by_key["id"].mean_fit.ratings == 2
    assert by_key["en"].mean_fit.value == 0.5 and by_key["en"].previous_mean_fit == 0.0
    assert by_key["id"].previous_mean_fit == 0.0 and by_key["id"].previous_ratings == 2
    tags = {tag.tag: tag for tag in digest.reasons}
    assert tags["too generic"].count == 2 and tags["too generic"].previous_count == 1
    assert tags["too generic"].by_fit == {"2/3": 1, "unrated": 1}  # dewi tagged without a rating
    assert tags["useful"].by_fit == {"3/3": 1} and tags["useful"].previous_count == 0
    assert [tag.tag for tag in digest.reasons] == ["too generic", "useful"]


def test_version_comparison_pools_the_previous_period():
    previous = rows([answer(10, version=1)], [rating(10, "ana", 3)], previous=True)  # v1: fit 1
    current = rows(
        [answer(1, version=1), answer(2, version=2), answer(3, version=2)],
        [rating(1, "ana", 1), rating(2, "ana", 3), rating(3, "ana", 2)],
    )
    digest = compute_digest(current, previous)
    versions = digest.versions
    assert versions.window == "this and the previous period"
    assert (versions.prior, versions.latest) == ("v1", "v2")
    # v1 pooled: answers 10 (fit 1) and 1 (fit 0): mean 0.5; v2: answers 2 (1) and 3 (0.5): mean 0.75.
    assert [(g.label, g.mean_fit.value) for g in versions.versions] == [("v1", 0.5), ("v2", 0.75)]
    assert versions.mean_fit_change is not None and versions.mean_fit_change.value == pytest.approx(0.25)
    assert (  # two rated answers a side
        "v1 (2 rated answers) and v2 (2 rated answers) have too few rated answers to resample, so the difference has "
        "no interval." in versions.note
    )
    # The current-period breakdown is of this period only.
    by_version = digest.breakdown("scope_version")
    assert by_version is not None
    assert [(g.label, g.mean_fit.value) for g in by_version.groups] == [("v1", 0.0), ("v2", 0.75)]


def test_an_unrated_current_version_is_named_and_the_older_ones_are_not_called_latest():
    previous = rows([answer(10, version=1)], [rating(10, "ana", 3)], previous=True)  # v1: fit 1
    current = rows(
        [answer(1, version=1), answer(2, version=2), answer(3, version=2), answer(4, version=3)],
        [rating(1, "ana", 1), rating(2, "ana", 3), rating(3, "ana", 2)],  # v3, in use at the end: unrated
    )
    digest = compute_digest(dataclasses.replace(current, scope_version=3), previous)
    versions = digest.versions
    assert versions.current == "v3"
    # v1 pooled: answers 10 (fit 1) and 1 (fit 0): mean 0.5; v2: answers 2 (1) and 3 (0.5): mean 0.75; v3 none.
    assert [(g.label, g.mean_fit.value) for g in versions.versions] == [("v1", 0.5), ("v2", 0.75)]
    assert (versions.prior, versions.latest) == ("v1", "v2")
    assert versions.mean_fit_change is not None and versions.mean_fit_change.value == pytest.approx(0.25)
    assert versions.note.startswith(
        "In this and the previous period, v3 (in use at the period's end) has no ratings yet, so its change "
        "cannot be judged; compared instead are v2 and v1, the two latest versions with ratings. v2 versus v1 in "
        "this and the previous period: v1 (2 rated answers) and v2 (2 rated answers) have too few rated answers to "
        "resample, so the difference has no interval."
    )
    markdown = render_markdown(digest)
    assert "Latest scope version" not in markdown
    assert (
        "- Scope version v2 versus v1 (this and the previous period; v3, in use at the period's end, has no ratings "
        "yet): mean fit change not stated, it rests on too few ratings (a side has too few rated answers to "
        "resample)"
    ) in markdown
    section = markdown[markdown.index("## Did the last scope change help?") :].split("\n\n")
    assert section[1] == versions.note  # said before the table of the older versions

    # With v2 in use (and rated) the comparison is the last change, as without knowing the version in use.
    rated = compute_digest(dataclasses.replace(current, answers=current.answers[:3], scope_version=2), previous)
    unknown = compute_digest(dataclasses.replace(current, answers=current.answers[:3]), previous)
    assert rated.versions.current == "v2" and unknown.versions.current is None
    assert rated.versions.note == unknown.versions.note
    assert rated.versions.note.startswith("v2 versus v1 in this and the previous period: v1 (2 rated answers)")
    assert (
        "- Latest scope version v2 versus v1 (this and the previous period): mean fit change not stated"
        in render_markdown(rated)
    )


def test_an_unrated_current_version_with_nothing_to_compare():
    # v2 is in use but answered only in a randomized comparison (left out of the before/after comparison).
    arms = [
        dataclasses.replace(answer(2, version=2), arm="1:current"),
        dataclasses.replace(answer(3), arm="1:alternative"),
    ]
    current = rows([answer(1, version=1), *arms], [rating(1, "ana", 3), rating(2, "ana", 3), rating(3, "budi", 1)])
    versions = compute_digest(dataclasses.replace(current, scope_version=2), None).versions
    assert (versions.current, versions.latest, versions.mean_fit_change) == ("v2", None, None)
    assert versions.note == (
        "In this period, v2 (in use at the period's end) has no ratings yet outside randomized comparisons, and "
        "only one other version (v1) has rated answers: there is nothing to compare."
    )
    nothing = compute_digest(dataclasses.replace(rows([answer(1, version=4)]), scope_version=4), None).versions
    assert nothing.current == "v4" and nothing.versions == ()
    assert nothing.note == (
        "In this period, v4 (in use at the period's end) has no ratings yet, and no other version has rated "
        "answers: there is nothing to compare."
    )


def test_the_version_note_says_answers_in_a_randomized_comparison_are_left_out():
    """v2 has 1 rated answer outside the comparison and v1 and v2 one each inside it: the tables by version count
    all of them, and the note said "only one scope version (v2) has rated answers" beside them."""
    arms = [
        dataclasses.replace(answer(2, version=2), arm="1:current"),
        dataclasses.replace(answer(3, version=1), arm="1:alternative"),
    ]
    current = rows([answer(1, version=2), *arms], [rating(1, "ana", 3), rating(2, "ana", 3), rating(3, "budi", 1)])
    note = compute_digest(dataclasses.replace(current, scope_version=2), None).versions.note
    assert note == (
        "Only one scope version (v2) has rated answers outside randomized comparisons in this period: there is "
        "nothing to compare."
    )
    only_arms = rows(arms, [rating(2, "ana", 3), rating(3, "budi", 1)])
    assert compute_digest(only_arms, None).versions.note == (
        "No rated answer in this period used a scope version outside randomized comparisons: there is nothing to "
        "compare."
    )
    plain = compute_digest(rows([answer(1, version=2)], [rating(1, "ana", 3)]), None).versions.note
    assert plain == "Only one scope version (v2) has rated answers in this period: there is nothing to compare."


def test_rating_of_an_answer_from_the_previous_period_uses_its_metadata():
    previous = rows([answer(10, language="vi", version=3)], [], previous=True)
    current = rows([], [rating(10, "ana", 3)])
    digest = compute_digest(current, previous)
    language = digest.breakdown("language")
    assert language is not None and [g.key for g in language.groups] == ["vi"]
    assert "unknown_answers" not in codes(digest)
    alone = compute_digest(current, None)
    assert "unknown_answers" in codes(alone)
    language = alone.breakdown("language")
    assert language is not None and [g.label for g in language.groups] == ["answer not in the rows"]


def test_timeline_per_day():
    answers = [answer(1, day=17), answer(2, day=17), answer(3, day=19)]
    ratings = [rating(1, "ana", 3), rating(2, "ana", 1), rating(3, "ana", 2), rating(3, "budi", 3)]
    digest = compute_digest(rows(answers, ratings), None)
    points = [(point.day, point.mean_fit.value, point.mean_fit.ratings) for point in digest.timeline]
    assert points == [("2026-11-17", 0.5, 2), ("2026-11-19", 0.75, 2)]
    assert digest.timeline[1].mean_fit.low is None  # one answer that day: no interval
    # Weekly buckets start on Monday 16 November: (1 + 0 + 0.5 + 1) / 4 = 0.625.
    weekly = fit_timeline([rows(answers, ratings)], weekly=True)
    assert [(p.day, p.mean_fit.value) for p in weekly] == [("2026-11-16", 0.625)]


def test_weekly_timeline_sums_the_days_of_the_same_draws():
    """A week's totals in each replicate are its days': the same fits and intervals as a weekly grouping of the
    same bootstrap draws, without a second bootstrap."""
    answers = [answer(i, day=3 + (i * 5) % 26) for i in range(40)]
    ratings = [rating(i, rater, 1 + (i + k) % 3) for i in range(40) for k, rater in enumerate(("ana", "budi"))]
    period = prepare(rows(answers, ratings))
    asked = {a.answer_id: a.created_at[:10] for a in answers}
    days = [asked[answer_id] for answer_id in period.answer_ids.tolist()]  # the bootstrap's order of answers
    buckets = sorted(set(days))
    weeks = sorted({week_of(day) for day in days})
    daily, weekly = grouped(
        period,
        [bucket_grouping(days, buckets, weekly=False), bucket_grouping(days, weeks, weekly=True)],
        seed=3,
        resamples=300,
        label="current",
    )
    summed = timeline(buckets, [daily], weekly=True)
    assert [point.day for point in summed] == weeks and len(weeks) == 4
    assert summed == timeline(weeks, [weekly])


# ---------------------------------------------------------------------------------------------- quality notes


def test_quality_notes():
    answers = [answer(i, outcome="failed" if i < 2 else "incomplete" if i == 2 else "ok") for i in range(10)]
    ratings = [rating(0, "ana", 3), rating(1, "ana", 3), rating(1, "budi", 1), rating(0, "ana", 9)]
    digest = compute_digest(rows(answers, [*ratings, rating(99, "citra", 2)]), None)
    notes = {note.code: note.message for note in digest.notes}
    # ana: 2 of 4 valid ratings is not more than half; the out-of-scale 9 is ignored (and replaces nothing).
    assert "dominant_rater" not in notes
    assert notes["invalid_ratings"] == "Ratings with a value outside their scale, ignored: 1."
    # The share rated counts the 8 answers shown with rating controls (the 2 failed ones had none).
    d = digest.current.denominators
    assert (d.answers, d.ratable_answers, d.rated_answers, d.share_rated) == (10, 8, 2, 0.0)
    assert "100% of the answers that could be rated were not" in notes["many_unrated"]
    assert notes["failed_answers"].startswith("30% of the answers failed or were incomplete (2 failed, 1 incomplete)")
    assert "Ratings of answers missing from the rows: 1." in notes["unknown_answers"]
    dominant = compute_digest(
        rows(answers, [rating(i, "ana", 2) for i in range(6)] + [rating(i, "budi", 2) for i in range(4)]), None
    )
    assert "One member gave 60% of the ratings" in next(n.message for n in dominant.notes if n.code == "dominant_rater")


def test_mostly_askers_rating_their_own_answers_gets_a_note():
    answers = [answer(i) for i in range(4)]
    own = [dataclasses.replace(rating(i, "asker", 3), is_asker=True) for i in range(3)]
    digest = compute_digest(rows(answers, [*own, rating(3, "ana", 2)]), None)
    [note] = [note.message for note in digest.notes if note.code == "askers_rating"]
    assert note.startswith("Askers rating the answer to their own question gave 3 of the 4 ratings (75%)")
    others = compute_digest(rows(answers, [*own[:1], *(rating(i, "ana", 2) for i in (1, 2, 3))]), None)
    assert "askers_rating" not in codes(others)


def test_duplicate_ratings_count_once_latest_wins():
    early = RatingRow(1, member("ana"), 1, 3, False, "button", "2026-11-18T10:00:00.000Z", "2026-11-18T10:00:00.000Z")
    late = RatingRow(1, member("ana"), 3, 3, False, "button", "2026-11-18T10:00:00.000Z", "2026-11-19T10:00:00.000Z")
    digest = compute_digest(rows([answer(1)], [late, early]), None)
    assert digest.current.denominators.ratings == 1
    assert digest.current.fit.mean_fit.value == 1.0


# ---------------------------------------------------------------------------------------------- quotes, audit


def test_quotes_only_quotable_with_per_digest_aliases():
    answers = [answer(1), answer(2)]
    ratings = [rating(1, "ana", 1), rating(1, "budi", 3), rating(2, "ana", 2)]
    comments = [
        comment(1, 1, "ana", "Too formal for a warung, bapak would laugh"),
        comment(2, 1, "budi", "Private remark, do not quote", quotable=False),
        comment(3, 2, "ana", "Better, but misses the Javanese krama register"),
        comment(4, 2, "ana", "A third remark from the same member"),
    ]
    digest = compute_digest(rows(answers, ratings, comments=comments), None)
    quotes = digest.quotes
    assert {quote.comment_id for quote in quotes} == {1, 3}  # quotable only, at most two per member
    assert {quote.member for quote in quotes} == {"Member A"}
    assert all(member("ana") not in quote.member for quote in quotes)
    by_id = {quote.comment_id: quote for quote in quotes}
    assert by_id[1].rating == "1/3" and by_id[3].rating == "2/3"
    # Lowest-fit comments show only the quotable one, with the same per-digest alias; the other is counted.
    notes = {note.answer_id: note for note in digest.lowest_fit}
    assert {c.comment_id: c.member for c in notes[1].comments} == {1: "Member A"}
    assert notes[1].unquotable_comments == 1


def test_scope_changes_and_moderator_actions():
    audit = [
        AuditRow("settings.update", "answer channels: <#5>", "2026-11-19T08:00:00.000Z"),
        AuditRow("scope.edit", "v2: greetings section, ping @everyone", "2026-11-18T08:00:00.000Z"),
        AuditRow("scope.rollback", "back to v1", "2026-11-20T08:00:00.000Z"),
    ]
    digest = compute_digest(rows(audit=audit), None)
    assert [entry.action for entry in digest.scope_changes] == ["scope.edit", "scope.rollback"]
    assert digest.scope_changes[0].detail == f"v2: greetings section, ping @{ZERO_WIDTH_SPACE}everyone"
    assert [entry.action for entry in digest.moderator_actions] == ["settings.update"]


# ---------------------------------------------------------------------------------------------- themes

GREETINGS = [
    "bapak ibu honorific greeting formal",
    "honorific greeting elder formal bapak",
    "formal greeting bapak elder honorific",
    "elder honorific ibu greeting formal",
    "greeting formal honorific bapak ibu",
    "ibu elder formal honorific greeting",
]
FOOD = [
    "sambal spicy rice warung lunch",
    "rice sambal warung spicy dinner",
    "spicy warung lunch rice sambal",
    "dinner sambal rice spicy warung",
    "warung spicy sambal lunch rice",
    "lunch rice dinner sambal spicy",
]
FUNERAL = [
    "funeral condolence visit flowers mourning",
    "mourning funeral condolence flowers visit",
    "condolence visit funeral mourning flowers",
    "flowers mourning visit funeral condolence",
]


def test_short_themes_that_continue_are_not_new():
    # Short comments make themes of one or two terms: the same ones again are not new (they needed 3 shared terms).
    texts = ["bapak formal"] * 4 + ["casual slang"] * 4
    current = rows([answer(1)], comments=[comment(i, 1, "ana", text) for i, text in enumerate(texts)])
    previous = rows(
        [answer(1)], comments=[comment(100 + i, 1, "ana", text) for i, text in enumerate(texts)], previous=True
    )
    summary = compute_digest(current, previous).themes
    assert len(summary.themes) == 2
    assert [theme.is_new for theme in summary.themes] == [False, False]
    # A short theme sharing one of its two terms with last period's is still a new one.
    other = ["bapak kantor"] * 4 + ["casual slang"] * 4
    changed = rows([answer(1)], comments=[comment(i, 1, "ana", text) for i, text in enumerate(other)])
    assert sorted(theme.is_new is True for theme in compute_digest(changed, previous).themes.themes) == [False, True]


def test_themes_separate_topics_deterministically_and_mark_new_ones():
    texts = GREETINGS + FOOD
    authors = [member(("ana", "budi", "citra")[i % 3]) for i in range(len(texts))]
    finding = find_themes(texts, authors=authors, seed=0)
    groups = sorted(sorted(theme.members) for theme in finding.themes)
    assert groups == [list(range(6)), list(range(6, 12))]  # each theme is exactly one topic
    assert find_themes(texts, authors=authors, seed=0) == finding
    answers = [answer(1)]
    writers = ("ana", "budi", "citra")
    current = rows(answers, comments=[comment(i, 1, writers[i % 3], text) for i, text in enumerate(texts)])
    previous = rows(
        answers,
        comments=[comment(100 + i, 1, writers[i % 3], text) for i, text in enumerate(GREETINGS + FUNERAL)],
        previous=True,
    )
    summary = compute_digest(current, previous).themes
    new = {theme.label: theme.is_new for theme in summary.themes}
    food = next(label for label in new if "sambal" in label or "rice" in label or "spicy" in label)
    greeting = next(label for label in new if label != food)
    assert new == {food: True, greeting: False}
    assert all(theme.size == 6 and theme.share == 0.5 for theme in summary.themes)
    assert "k-means" in summary.method and "TF-IDF" in summary.method
    assert compute_digest(current, None).themes.themes[0].is_new is None  # nothing to compare with


def test_too_few_comments_for_themes():
    summary = compute_digest(rows([answer(1)], comments=[comment(1, 1, "ana", "Too formal")]), None).themes
    assert summary.themes == ()
    assert (
        summary.note is not None and "share a content word with another comment (here: 0 of 1 comment)." in summary.note
    )


def test_tokenize_is_unicode_aware():
    decomposed = unicodedata.normalize("NFD", "Xưng HÔ với Sếp")
    assert tokenize(decomposed) == ["xưng", "hô", "sếp"]  # NFC, case-folded, "với" is a stop word
    assert tokenize("The answer is too formal, and the bapak would laugh") == ["answer", "formal", "bapak", "laugh"]
    assert tokenize("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]  # combining vowel signs stay in their words
    assert tokenize("敬語は難しい") == ["敬語", "語は", "は難", "難し", "しい"]  # no spaces: character pairs
    assert tokenize("Straße 2024 1st") == ["strasse", "1st"]  # numbers alone are dropped


@pytest.mark.parametrize(
    "text",
    [
        "Plain words, with punctuation; and (brackets)!",
        "snake_case and CamelCase, 3rd place, x86-64, e-mail@example.com",
        "tabs\tnew\nlines\r\nand\x1ccontrol\x00characters\x7fhere",
        "it's the members' 'quoted' words''here",  # apostrophes inside words only
        "",
        "   ",
    ],
)
def test_ascii_words_are_the_runs_the_word_pattern_finds(text: str):
    assert tokenize(text) == [
        word for word in re.findall(r"\w+(?:'\w+)*", text.lower(), re.ASCII) if is_content_word(word)
    ]


# ---------------------------------------------------------------------------------------------- text


def test_safe_text_defuses_pings_and_mention_tokens():
    assert safe_text("hi <@123> and <@!456>") == "hi @member and @member"
    assert safe_text("the <@&789> role") == "the @role role"
    assert safe_text("@everyone @here @Everyone") == "@\u200beveryone @\u200bhere @\u200bEveryone"
    assert safe_text("broken <@abc") == "broken <\u200b@abc"
    assert safe_text("no mentions at all") == "no mentions at all"


def test_excerpt_cuts_on_words_and_keeps_marks_with_their_letters():
    assert excerpt("aaa bbb ccc", 8) == "aaa bbb…"
    assert excerpt("short\n\ntext", 300) == "short text"
    no_spaces = "xxxxx" + "e\u0301" * 10
    # Cut at 8 would separate "e" from its accent at index 8: the cut moves back before that "e".
    assert excerpt(no_spaces, 9) == "xxxxx" + "e\u0301" + "…"
    assert len(excerpt("word " * 100, 300)) <= 300
