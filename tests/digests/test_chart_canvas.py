"""The chart's reused figure: each chart is the one a new figure draws, whatever was drawn on it before."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from bot.digests.chart import render_chart
from bot.digests.chart_canvas import ChartCanvas
from bot.digests.rows import AuditRow, DigestRows
from bot.digests.stats import compute_digest
from tests.digests.test_report import assert_png, period_rows
from tests.digests.test_stats import answer, rating, rows


def other_server() -> tuple[DigestRows, DigestRows]:
    """Different versions, days and values from `period_rows`, and no scope change."""
    answers = [answer(i, version=7 + i % 3, day=20 + i % 2) for i in range(5)]
    ratings = [rating(i, rater, 1 + (i + k) % 3, day=21) for i in range(5) for k, rater in enumerate(("ana", "bo"))]
    current = rows(answers, ratings, guild_name="Other")
    return current, rows(previous=True, guild_name="Other")


def draw(canvas: ChartCanvas | None, server: tuple[DigestRows, DigestRows], path: Path) -> bytes:
    current, previous = server
    return render_chart(current, [previous], compute_digest(current, previous), path, canvas=canvas).read_bytes()


def test_a_reused_figure_draws_what_a_new_one_does(tmp_path: Path):
    first, second = period_rows(), other_server()
    empty = (rows(), rows(previous=True))
    reused = ChartCanvas()
    sequence = [first, second, empty, second, first, first]
    for n, server in enumerate(sequence):
        made = draw(reused, server, tmp_path / f"reused-{n}.png")
        assert made == draw(ChartCanvas(), server, tmp_path / f"new-{n}.png"), f"chart {n} differs"
        assert_png(tmp_path / f"reused-{n}.png")
    # Nothing of the first server is left on the second's chart.
    assert draw(reused, first, tmp_path / "a.png") != draw(reused, second, tmp_path / "b.png")


def test_the_kept_frame_gives_the_whole_figure_pixel_for_pixel(tmp_path: Path):
    canvas = ChartCanvas()
    for n, server in enumerate([period_rows(), other_server()]):
        path = tmp_path / f"{n}.png"
        draw(canvas, server, path)
        with Image.open(path) as image:
            saved = np.asarray(image.convert("RGBA"))
        assert np.array_equal(saved, canvas.draw_whole())


def test_the_frame_follows_a_new_time_axis(tmp_path: Path):
    """A period in another month redraws the date labels instead of reusing the last ones."""
    canvas = ChartCanvas()
    current, previous = period_rows()
    draw(canvas, (current, previous), tmp_path / "november.png")
    later = replace(current, start="2026-12-14T00:00:00.000Z", end="2026-12-21T00:00:00.000Z")
    earlier = replace(previous, start="2026-12-07T00:00:00.000Z", end="2026-12-14T00:00:00.000Z")
    made = draw(canvas, (later, earlier), tmp_path / "december.png")
    assert made == draw(ChartCanvas(), (later, earlier), tmp_path / "december-new.png")


def test_the_axes_keep_their_own_locators_after_a_chart(tmp_path: Path):
    """Fixed tick positions stand in only while the panels are drawn."""
    canvas = ChartCanvas()
    axes = (canvas.over_time.xaxis, canvas.over_time.yaxis, canvas.by_version.yaxis)
    before = [(axis.get_major_locator(), axis.get_major_formatter()) for axis in axes]
    draw(canvas, period_rows(), tmp_path / "chart.png")
    assert [(axis.get_major_locator(), axis.get_major_formatter()) for axis in axes] == before


def test_the_legend_is_the_one_drawn_over_what_lies_under_it(tmp_path: Path):
    """The legend's pixels are pasted only over the very pixels they were drawn over."""
    current, previous = period_rows()
    # A scope change on the chart's second day: its dotted line runs under the legend (lower left).
    second_day = date.fromisoformat(previous.start[:10]) + timedelta(days=1)
    crossed = replace(current, audit=[*current.audit, AuditRow("scope.edit", "v3", f"{second_day}T12:00:00.000Z")])
    reused = ChartCanvas()
    charts = []
    for n, server in enumerate([(current, previous), (crossed, previous), (current, previous), (crossed, previous)]):
        made = draw(reused, server, tmp_path / f"reused-{n}.png")
        assert made == draw(ChartCanvas(), server, tmp_path / f"new-{n}.png"), f"chart {n} differs"
        charts.append(made)
    assert charts[0] == charts[2] != charts[1] == charts[3]
    # Drawn twice (over the plain grid, then over the line), then pasted twice.
    assert [len(kept) for kept in reused._legend_pixels.values()] == [2]
