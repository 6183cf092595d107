"""The count under each scope version's bar says what it counts: rated answers (the unit the interval resamples),
and ratings where the bar is wide enough. It read "n=36", the ratings, under an interval that resamples answers.

Fixture: versions 1..n, each with 12 answers rated by three members: 12 rated answers and 36 ratings each.
"""

from __future__ import annotations

from pathlib import Path

from bot.digests.chart import render_chart
from bot.digests.chart_canvas import ChartCanvas
from bot.digests.stats import compute_digest
from tests.digests.test_stats import answer, rating, rows


def versions_chart(n: int, tmp_path: Path) -> list[str]:
    answers = [answer(i, version=1 + i % n) for i in range(n * 12)]
    ratings = [rating(i, r, 1 + (i + k) % 3) for i in range(n * 12) for k, r in enumerate(("ana", "budi", "citra"))]
    current, previous = rows(answers, ratings), rows(previous=True)
    digest = compute_digest(current, previous, bootstrap=50)
    assert [(g.mean_fit.answers, g.mean_fit.ratings) for g in digest.versions.versions] == [(12, 36)] * n
    canvas = ChartCanvas()
    render_chart(current, [previous], digest, tmp_path / "chart.png", canvas=canvas)
    return [text.get_text() for text in canvas.by_version.texts]


def test_a_few_wide_bars_spell_out_answers_and_ratings(tmp_path: Path):
    assert versions_chart(3, tmp_path) == ["12 answers\n36 ratings"] * 3


def test_narrower_bars_count_rated_answers_and_say_so_once(tmp_path: Path):
    texts = versions_chart(5, tmp_path)
    assert texts == ["n=12"] * 5 + ["n = rated answers"]


def test_one_rated_answer_reads_in_the_singular(tmp_path: Path):
    current = rows([answer(1, version=1), answer(2, version=2)], [rating(1, "ana", 3), rating(2, "ana", 2)])
    digest = compute_digest(current, None, bootstrap=20)
    canvas = ChartCanvas()
    render_chart(current, None, digest, tmp_path / "chart.png", canvas=canvas)
    assert [text.get_text() for text in canvas.by_version.texts] == ["1 answer\n1 rating"] * 2
