"""Each scope version's (and randomized arm's) fit share counts the top of the scales its ratings were given on, so
the tables comparing them say which: a "Rating scale" column in Markdown and HTML, `scales` in digest.json.

The fixture, by hand:

    previous period: answers 101, 102 under v1, rated on the 5-point scale.
    this period:     answers 1, 2 under v1 and 3, 4 under v2, rated on the 3-point scale; answer 5 under v3 on the
                     5-point scale and answer 6 under v3 on the 3-point scale; answer 7 unscoped, not rated.

Pooled over both periods (the scope-version comparison): v1 3- and 5-point, v2 3-point, v3 3- and 5-point. This
period alone (the "By scope version" breakdown): v1 and v2 3-point, v3 3- and 5-point, unscoped none.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from bot.digests.bootstrap import Grouping
from bot.digests.periods import prepare
from bot.digests.report import render_html, render_json, render_markdown
from bot.digests.stats import compute_digest
from tests.digests.test_stats import answer, member, rating, rows


def fixture_periods():
    previous = rows(
        [answer(101, version=1, day=10), answer(102, version=1, day=11)],
        [rating(101, "ana", 5, 5, day=12), rating(102, "ana", 3, 5, day=12)],
        previous=True,
    )
    current = rows(
        [
            answer(1, version=1),
            answer(2, version=1),
            answer(3, version=2),
            answer(4, version=2),
            answer(5, version=3),
            answer(6, version=3),
            answer(7, version=None),
        ],
        [
            rating(1, "ana", 3),
            rating(2, "ana", 2),
            rating(3, "ana", 3),
            rating(4, "budi", 1),
            rating(5, "ana", 4, 5),
            rating(6, "budi", 3),
        ],
    )
    return current, previous


def section(markdown: str, heading: str) -> str:
    return markdown.split(heading)[1].split("\n#")[0]


def test_answer_scales_count_each_groups_ratings_per_scale():
    from bot.digests.estimates import AnswerScales  # new with the column: imported here, not to fail the rest

    # Answers 1..3; answer 1 rated twice on the 3-point scale, answer 2 once on the 5-point, answer 3 once on each.
    period = prepare(
        rows(
            [answer(i) for i in (1, 2, 3)],
            [
                rating(1, "ana", 1),
                rating(1, "budi", 3),
                rating(2, "ana", 5, 5),
                rating(3, "ana", 2),
                rating(3, "budi", 2, 5),
            ],
        )
    )
    scales = AnswerScales.of(period)
    assert scales.sizes == (3, 5)
    # Group 0: answers 1 and 3; group 1: answer 2 (answer ids are in ascending order in the period).
    counts = scales.by_group(Grouping(np.array([0, 1, 0]), 2))
    assert counts.tolist() == [[0, 0, 0, 3, 0, 1], [0, 0, 0, 0, 0, 1]]
    # An answer in no group (-1) counts nowhere.
    assert scales.by_group(Grouping(np.array([-1, 0, -1]), 1)).tolist() == [[0, 0, 0, 0, 0, 1]]


def test_scope_version_tables_have_a_rating_scale_column():
    current, previous = fixture_periods()
    digest = compute_digest(current, previous)

    assert [(group.label, group.scales) for group in digest.versions.versions] == [
        ("v1", (3, 5)),
        ("v2", (3,)),
        ("v3", (3, 5)),
    ]
    breakdown = digest.breakdown("scope_version")
    assert breakdown is not None
    assert [(group.label, group.scales) for group in breakdown.groups] == [
        ("unscoped", ()),
        ("v1", (3,)),
        ("v2", (3,)),
        ("v3", (3, 5)),
    ]

    markdown = render_markdown(digest)
    versions = section(markdown, "## Did the last scope change help?")
    assert "| Version | Rating scale | Answers | Rated answers | Ratings | Fit share | Mean fit |" in versions
    assert "| v1 | 3- and 5-point | 4 | 4 | 4 |" in versions  # pooled over both periods
    assert "| v2 | 3-point | 2 | 2 | 2 |" in versions
    assert "| v3 | 3- and 5-point | 2 | 2 | 2 |" in versions
    by_version = section(markdown, "### By scope version")
    assert (
        "| Group | Rating scale | Answers | Rated answers | Ratings | Fit share | Mean fit | Previous mean fit |"
        in (by_version)
    )
    assert "|---|---|---:|---:|---:|---|---|---|" in by_version
    assert "| unscoped | — | 1 | 0 | 0 |" in by_version
    assert "| v1 | 3-point | 2 | 2 | 2 |" in by_version
    assert "| v3 | 3- and 5-point | 2 | 2 | 2 |" in by_version
    # Other breakdowns have no such column: their groups are not compared across scales.
    assert "Rating scale" not in section(markdown, "### By language")

    page = render_html(digest)
    assert "<th>Rating scale</th>" in page and "<td>v1</td><td>3- and 5-point</td>" in page

    plain = json.loads(render_json(digest))
    assert [group["scales"] for group in plain["versions"]["versions"]] == [[3, 5], [3], [3, 5]]
    [by_version_json] = [b for b in plain["breakdowns"] if b["dimension"] == "scope_version"]
    assert [group["scales"] for group in by_version_json["groups"]] == [[], [3], [3], [3, 5]]


def test_randomized_arms_table_has_a_rating_scale_column():
    # Comparison 4: the current arm rated on the 3-point scale, the alternative on both.
    answers = [
        dataclasses.replace(answer(i), arm="4:current" if i <= 4 else "4:alternative", asker_hash=member(f"a{i}"))
        for i in range(1, 9)
    ]
    ratings = [rating(i, "ana", 1 + i % 3) for i in range(1, 8)] + [rating(8, "ana", 5, 5)]
    digest = compute_digest(rows(answers, ratings), None)
    [comparison] = digest.comparisons
    assert (comparison.current_scales, comparison.alternative_scales) == ((3,), (3, 5))

    arms = section(render_markdown(digest), "### Comparison \\#4")
    assert "| Arm | Rating scale | Answers | Rated answers | Ratings | Fit share | Mean fit |" in arms
    assert "| current version (v1) | 3-point | 4 | 4 | 4 |" in arms
    assert "| alternative version (v1) | 3- and 5-point | 4 | 4 | 4 |" in arms
