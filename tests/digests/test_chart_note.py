"""The chart's points without a band and versions without a whisker are explained: under the chart in the report
(only when there are such), and in the chart's legend."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection

from bot.digests.chart import BAND_STRIP, render_chart
from bot.digests.chart_canvas import ChartCanvas
from bot.digests.report import render_html, render_markdown
from bot.digests.rows import AnswerRow, RatingRow
from bot.digests.sections import CHART_AFTER, chart_note, report_blocks
from bot.digests.stats import compute_digest
from tests.digests.test_chart_canvas import draw
from tests.digests.test_stats import answer, rating, rows

SPREAD = (1, 2, 3)


def period(per_day: dict[int, int], *, version_of=lambda answer_id: 1, values=SPREAD):
    """`per_day[day]` answers asked that day (in November 2026), each rated by two members: with the default
    values the answers' means differ (0.25, 0.75, 0.5, …)."""
    answers: list[AnswerRow] = []
    ratings: list[RatingRow] = []
    for day, count in per_day.items():
        for _ in range(count):
            answer_id = len(answers)
            answers.append(answer(answer_id, day=day, version=version_of(answer_id)))
            ratings += [
                rating(answer_id, rater, values[(answer_id + k) % len(values)])
                for k, rater in enumerate(("ana", "budi"))
            ]
    return rows(answers, ratings)


def previous_period(per_day: dict[int, int]):
    """`period(per_day)` as the previous period (days before the 16th): answer ids from 100, ratings on the 11th."""
    earlier = period(per_day)
    return rows(
        [replace(row, answer_id=row.answer_id + 100) for row in earlier.answers],
        [
            replace(
                row,
                answer_id=row.answer_id + 100,
                created_at=row.created_at.replace("-18T", "-11T"),
                updated_at=row.updated_at.replace("-18T", "-11T"),
            )
            for row in earlier.ratings
        ],
        previous=True,
    )


def test_no_note_when_every_point_and_version_has_its_interval():
    digest = compute_digest(period({17: 5, 18: 5}), None)
    assert all(point.mean_fit.low is not None for point in digest.timeline)
    assert chart_note(digest) == []
    report = render_markdown(digest)
    assert "without a band" not in report and "without a whisker" not in report


def test_days_with_one_rated_answer_are_named_under_the_chart():
    digest = compute_digest(period({16: 1, 17: 5, 19: 1}), None)
    [note] = chart_note(digest)
    text = "In the chart, points without a band (drawn hollow) have no interval: 2 days with one rated answer."
    assert note.text == text
    # Right under the chart: the block after CHART_AFTER, in both reports.
    assert report_blocks(digest)[CHART_AFTER + 1] == note
    html = render_html(digest)
    assert f"<p>{text}</p>" in html
    markdown = render_markdown(digest)
    assert markdown.index("- Versus the previous period") < markdown.index(text) < markdown.index("## Data-quality")


def test_a_day_whose_answers_all_average_the_same_is_named_with_its_reason():
    digest = compute_digest(period({17: 4, 18: 3}, values=(2,)), None)  # every rating "Partly fits"
    [note] = chart_note(digest)
    assert note.text == (
        "In the chart, points without a band (drawn hollow) have no interval: 2 days with every answer averaging "
        "the same. Bars without a whisker have no interval: v1 (every answer averaging the same)."
    )


def test_versions_without_a_whisker_are_named():
    digest = compute_digest(period({17: 5, 18: 5}, version_of=lambda answer_id: 2 if answer_id == 0 else 1), None)
    [note] = chart_note(digest)
    assert note.text == "In the chart, bars without a whisker have no interval: v2 (one rated answer)."


def test_both_kinds_in_one_note():
    digest = compute_digest(
        period({16: 1, 17: 5, 18: 5}, version_of=lambda answer_id: 2 if answer_id == 0 else 1), None
    )
    [note] = chart_note(digest)
    assert note.text == (
        "In the chart, points without a band (drawn hollow) have no interval: 1 day with one rated answer. Bars "
        "without a whisker have no interval: v2 (one rated answer)."
    )


def test_the_legend_names_the_hollow_points_only_when_there_are_some(tmp_path: Path):
    canvas = ChartCanvas()
    draw(canvas, (period({16: 1, 17: 5, 19: 1}), rows(previous=True)), tmp_path / "bare.png")
    assert legend_texts(canvas)[-1] == "no band: one rated answer"
    draw(canvas, (period({17: 5, 18: 5}), rows(previous=True)), tmp_path / "banded.png")
    assert not any("no band" in text for text in legend_texts(canvas))


def legend_texts(canvas: ChartCanvas) -> list[str]:
    legend = canvas.over_time.legend_
    assert legend is not None
    return [text.get_text() for text in legend.texts]


def test_a_banded_day_between_two_without_gets_a_visible_band(tmp_path: Path):
    """fill_between draws a lone banded point as a polygon of no width: it gets a strip instead."""
    current = period({16: 1, 17: 5, 18: 1})
    digest = compute_digest(current, None)
    assert [point.mean_fit.low is not None for point in digest.timeline] == [False, True, False]
    canvas = ChartCanvas()
    render_chart(current, None, digest, tmp_path / "chart.png", canvas=canvas)
    strips = [
        collection
        for collection in canvas.over_time.collections
        if isinstance(collection, LineCollection) and np.atleast_1d(collection.get_linewidth()).tolist() == [BAND_STRIP]
    ]
    [strip] = strips
    [segment] = strip.get_segments()
    middle = digest.timeline[1].mean_fit
    assert (segment[0][1], segment[1][1]) == (middle.low, middle.high)


def test_reused_and_new_figures_agree_with_and_without_hollow_points(tmp_path: Path):
    servers = [
        (period({16: 1, 17: 5, 18: 1}), rows(previous=True)),
        (period({17: 5, 18: 5}), rows(previous=True)),
        (period({16: 1, 17: 5, 19: 1}, values=(2,)), rows(previous=True)),
    ]
    reused = ChartCanvas()
    for n, server in enumerate([*servers, servers[0]]):
        made = draw(reused, server, tmp_path / f"reused-{n}.png")
        assert made == draw(ChartCanvas(), server, tmp_path / f"new-{n}.png"), f"chart {n} differs"


def test_weeks_are_named_when_the_chart_is_weekly():
    """Two 28-day periods: the chart's points are weeks, and so are the note's."""
    current = replace(period({2: 1, 9: 4, 10: 1}), start="2026-11-01T00:00:00.000Z", end="2026-11-29T00:00:00.000Z")
    previous = replace(rows(previous=True), start="2026-10-04T00:00:00.000Z", end="2026-11-01T00:00:00.000Z")
    digest = compute_digest(current, previous)
    assert [point.mean_fit.answers for point in digest.weekly_timeline] == [1, 5]
    [note] = chart_note(digest)
    assert (
        note.text
        == "In the chart, points without a band (drawn hollow) have no interval: 1 week with one rated answer."
    )


def test_the_note_says_how_many_bare_points_are_the_previous_periods():
    """The line runs over both periods: one rated answer on the 10th (the previous period) and on the 16th (this)."""
    previous = previous_period({10: 1, 11: 5})
    digest = compute_digest(period({16: 1, 17: 5}), previous)
    [note] = chart_note(digest)
    assert note.text == (
        "In the chart, points without a band (drawn hollow) have no interval: 2 days with one rated answer "
        "(1 of them in the previous period)."
    )


def test_a_period_without_ratings_says_so_where_its_points_would_be(tmp_path: Path):
    """The previous period was rated, this one not: the line is the previous period's alone, and the chart says
    that this period has none (in its band), rather than leave an empty band to be read as a gap in the data."""
    previous = previous_period({10: 5})
    canvas = ChartCanvas()
    render_chart(
        rows([answer(1)]), [previous], compute_digest(rows([answer(1)]), previous), tmp_path / "a.png", canvas=canvas
    )
    assert [text.get_text() for text in canvas.over_time.texts] == ["No ratings\nthis period"]
    # A rated period draws no such text, and the reused figure keeps none from before.
    draw(canvas, (period({17: 5}), previous), tmp_path / "b.png")
    assert list(canvas.over_time.texts) == []
