"""Each view of fit names its window, so that the pooled version comparison (this and the previous period) and the
"By scope version" table (this period) do not read as a contradiction.

Fixture, by hand (3-point scale): v1 answers 1-10 in the previous period, every rating "Fits" (fit 1); this
period v1 answers 11-20 rated "Does not fit" (0) and v2 answers 21-30 rated "Partly fits" (0.5). This period
alone v2 (0.50) is above v1 (0.00); pooled over both periods v1 is 0.50 (10 of 20 answers at 1), v2 still 0.50.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.digests.chart import render_chart
from bot.digests.chart_canvas import ChartCanvas
from bot.digests.report import render_html, render_json, render_markdown
from bot.digests.stats import compute_digest
from tests.digests.test_comparisons import small_comparison
from tests.digests.test_stats import answer, rating, rows


def two_periods():
    before = rows(
        [answer(i, version=1, day=10) for i in range(1, 11)],
        [rating(i, r, 3, day=11) for i in range(1, 11) for r in ("ana", "budi")],
        previous=True,
    )
    answers = [answer(i, version=1) for i in range(11, 21)] + [answer(i, version=2) for i in range(21, 31)]
    ratings = [rating(i, r, 1) for i in range(11, 21) for r in ("ana", "budi")]
    ratings += [rating(i, r, 2) for i in range(21, 31) for r in ("ana", "budi")]
    return rows(answers, ratings), before


def section(markdown: str, heading: str) -> str:
    return markdown.split(heading, 1)[1].split("\n#")[0]


def test_the_pooled_comparison_and_the_one_period_table_each_name_their_window():
    current, previous = two_periods()
    digest = compute_digest(current, previous, bootstrap=200)
    pooled = {group.label: group.mean_fit.value for group in digest.versions.versions}
    assert pooled == {"v1": pytest.approx(0.5), "v2": pytest.approx(0.5)}
    by_version = digest.breakdown("scope_version")
    assert by_version is not None
    assert {group.label: group.mean_fit.value for group in by_version.groups} == {"v1": 0.0, "v2": 0.5}

    markdown = render_markdown(digest)
    summary = section(markdown, "## Summary")
    assert "- Latest scope version v2 versus v1 (this and the previous period): mean fit " in summary
    versions = section(markdown, "## Did the last scope change help? (this and the previous period)")
    assert (
        "Each version's ratings in this and the previous period, pooled (a change often falls mid-week): the numbers "
        'can differ from the "By scope version (this period)" table below, which counts this period only.'
    ) in versions
    table = section(markdown, "### By scope version (this period)")
    assert "| v1 | 3-point | 10 | 10 | 20 | 0% (" in table
    for heading in ("### By language (this period)", "### By channel (this period)"):
        assert heading in markdown
    assert "### By cue setting (topic; this period)" in markdown
    html = render_html(digest)
    assert "By scope version (this period)</h3>" in html
    assert "Did the last scope change help? (this and the previous period)</h2>" in html


def test_the_chart_bars_name_their_window(tmp_path: Path):
    current, previous = two_periods()
    digest = compute_digest(current, previous, bootstrap=50)
    canvas = ChartCanvas()
    render_chart(current, [previous], digest, tmp_path / "chart.png", canvas=canvas)
    assert canvas.by_version.get_title() == "Mean fit by scope version\n(this and the previous period)"


def test_one_period_says_so_and_needs_no_warning():
    current, _ = two_periods()
    markdown = render_markdown(compute_digest(current, None, bootstrap=50))
    assert "## Did the last scope change help? (this period)" in markdown
    assert "- Latest scope version v2 versus v1 (this period): mean fit " in markdown
    assert "pooled (a change often falls mid-week)" not in markdown


def test_a_randomized_comparison_names_its_window():
    digest = compute_digest(small_comparison(), None, seed=3, bootstrap=100)
    [comparison] = digest.comparisons
    assert comparison.window == "this period"
    assert "### Comparison \\#1 (this period)" in render_markdown(digest)
    assert json.loads(render_json(digest))["comparisons"][0]["window"] == "this period"
