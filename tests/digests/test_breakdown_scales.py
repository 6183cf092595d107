"""The breakdown tables' "Previous mean fit" says when a group was not rated on one and the same scale in both
periods: its row is marked "†", a footnote under the table names the scales, and digest.json carries
`previous_scales` and `previous_scales_differ` per group (as `change_scales_differ` for the whole period).

Hand-computed fixture (fit on 0–1 is (value − 1) / (scale size − 1)):

| period   | answer | language, channel | ratings            | fits        | group mean |
|----------|--------|-------------------|--------------------|-------------|------------|
| previous | 1      | en, 100           | 3/3, 2/3           | 1, 0.5      | en 0.75    |
| previous | 2      | id, 200           | 5/5, 2/5           | 1, 0.25     | id 0.625   |
| this     | 11     | en, 100           | 4/5, 3/5           | 0.75, 0.5   | en 0.625   |
| this     | 12     | id, 200           | 3/5, 1/5           | 0.5, 0      | id 0.25    |

en (channel 100): 3-point then 5-point, marked; id (channel 200): 5-point in both, not marked. Every answer is
scope v1 without a setting cue, so "v1" and "no setting cue" pool all four previous ratings, on a mix of the 3-
and 5-point scales (mean (1 + 0.5 + 1 + 0.25) / 4 = 0.6875), then only the 5-point: marked."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bot.digests.model import GroupFit
from bot.digests.report import render_html, render_json, render_markdown
from bot.digests.sections import scales_footnote
from bot.digests.stats import compute_digest
from tests.digests.test_stats import answer, rating, rows

FOOTNOTE_END = (
    ": compare with care. A step on one scale is not the same step on another, so the change in mean fit is a hint, "
    "not a finding."
)


def periods():
    previous = rows(
        [answer(1, language="en", channel=100, day=10), answer(2, language="id", channel=200, day=10)],
        [
            rating(1, "ana", 3, 3, day=11),
            rating(1, "budi", 2, 3, day=11),
            rating(2, "ana", 5, 5, day=11),
            rating(2, "budi", 2, 5, day=11),
        ],
        previous=True,
    )
    current = rows(
        [answer(11, language="en", channel=100), answer(12, language="id", channel=200)],
        [rating(11, "ana", 4, 5), rating(11, "budi", 3, 5), rating(12, "ana", 3, 5), rating(12, "budi", 1, 5)],
    )
    return current, previous


@pytest.fixture(scope="module")
def digest():
    current, previous = periods()
    return compute_digest(current, previous, bootstrap=50)


def groups(digest, dimension):
    breakdown = digest.breakdown(dimension)
    assert breakdown is not None
    return {group.key: group for group in breakdown.groups}


def test_each_group_carries_its_previous_scales_and_whether_they_differ(digest):
    language = groups(digest, "language")
    assert language["en"].previous_mean_fit == pytest.approx(0.75)
    assert (language["en"].previous_scales, language["en"].scales, language["en"].previous_scales_differ) == (
        (3,),
        (5,),
        True,
    )
    assert language["id"].previous_mean_fit == pytest.approx(0.625)
    assert (language["id"].previous_scales, language["id"].scales, language["id"].previous_scales_differ) == (
        (5,),
        (5,),
        False,
    )
    channel = groups(digest, "channel")
    assert (channel["100"].previous_scales_differ, channel["200"].previous_scales_differ) == (True, False)
    for dimension, key in (("setting", "none"), ("scope_version", "1")):
        pooled = groups(digest, dimension)[key]
        assert pooled.previous_mean_fit == pytest.approx(0.6875)
        assert pooled.previous_ratings == 4
        assert (pooled.previous_scales, pooled.scales, pooled.previous_scales_differ) == ((3, 5), (5,), True)
    # The whole period's change is a hint too: the previous period mixed the scales.
    assert digest.change_scales_differ


def test_digest_json_carries_the_flag_per_group(digest):
    plain = json.loads(render_json(digest))
    by_dimension = {
        b["dimension"]: {g["key"]: (g["previous_scales"], g["previous_scales_differ"]) for g in b["groups"]}
        for b in plain["breakdowns"]
    }
    assert by_dimension["language"] == {"en": ([3], True), "id": ([5], False)}
    assert by_dimension["channel"] == {"100": ([3], True), "200": ([5], False)}
    assert by_dimension["setting"] == {"none": ([3, 5], True)}
    assert by_dimension["scope_version"] == {"1": ([3, 5], True)}


def table_rows(section: str) -> dict[str, str]:
    """A Markdown table's rows by their first cell, each its last cell (the previous mean fit)."""
    found = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("Group", ""):
            found[cells[0]] = cells[-1]
    return found


def breakdown_section(markdown: str, title: str) -> str:
    return markdown.split(f"### {title}")[1].split("\n### ")[0].split("\n## ")[0]


def test_the_tables_mark_the_rows_and_a_footnote_names_the_scales(digest):
    markdown = render_markdown(digest)
    language = breakdown_section(markdown, "By language (this period)")
    assert table_rows(language) == {"en": "0.75 (2 ratings) †", "id": "0.62 (2 ratings)"}
    assert (
        "† Rated on different scales in the two periods, or on a mix of them (en: 3-point then 5-point)" + FOOTNOTE_END
        in language
    )
    channel = breakdown_section(markdown, "By channel (this period)")
    assert table_rows(channel) == {"channel 100": "0.75 (2 ratings) †", "channel 200": "0.62 (2 ratings)"}
    assert "(channel 100: 3-point then 5-point)" + FOOTNOTE_END in channel
    topic = breakdown_section(markdown, "By cue setting (topic; this period)")
    assert table_rows(topic) == {"no setting cue": "0.69 (4 ratings) †"}
    assert "(no setting cue: 3- and 5-point then 5-point)" + FOOTNOTE_END in topic
    version = breakdown_section(markdown, "By scope version (this period)")
    assert table_rows(version) == {"v1": "0.69 (4 ratings) †"}
    page = render_html(digest)
    assert "0.75 (2 ratings) †" in page
    assert "(en: 3-point then 5-point): compare with care." in page


def test_no_mark_and_no_footnote_when_every_group_kept_its_scale():
    current, previous = periods()
    on_five = [r for r in previous.ratings if r.scale_size == 5]
    same = compute_digest(current, dataclasses.replace(previous, ratings=on_five), bootstrap=50)
    assert not any(g.previous_scales_differ for b in same.breakdowns for g in b.groups)
    markdown = render_markdown(same)
    tables = markdown.split("## Where answers fit and where not")[1].split("\n## ")[0]
    assert "†" not in tables


def test_no_mark_without_a_previous_period():
    current, _ = periods()
    alone = compute_digest(current, None, bootstrap=50)
    assert not any(g.previous_scales_differ or g.previous_scales for b in alone.breakdowns for g in b.groups)
    assert "†" not in render_markdown(alone)


def test_the_footnote_lists_each_marked_group_previous_period_first():
    estimate = groups(compute_digest(*periods(), bootstrap=50), "language")["en"].mean_fit
    marked = [
        GroupFit("a", "Jakarta", 1, estimate, estimate, 0.5, 2, (5,), (3,), True),
        # A mix of the same scales in both periods: how the mix moved, previous period first.
        GroupFit("b", "Medan", 1, estimate, estimate, 0.5, 2, (3, 5), (3, 5), True, ((3, 1), (5, 3)), ((3, 4), (5, 4))),
    ]
    assert scales_footnote(marked) == (
        "† Rated on different scales in the two periods, or on a mix of them (Jakarta: 3-point then 5-point; Medan: "
        "a mix of 3- and 5-point in both (5-point 50% then 75% of its ratings))" + FOOTNOTE_END
    )


def test_a_group_on_a_mix_of_the_same_scales_in_both_periods_says_how_the_mix_moved():
    """Previous period: en has one answer on each scale (2 ratings each, 50% on each); this period: one 3-point
    answer with 1 rating and one 5-point answer with 3 ratings (25% then 75%)."""
    previous = rows(
        [answer(1, language="en", day=10), answer(2, language="en", day=10)],
        [
            rating(1, "ana", 3, 3, day=11),
            rating(1, "budi", 2, 3, day=11),
            rating(2, "ana", 5, 5, day=11),
            rating(2, "budi", 4, 5, day=11),
        ],
        previous=True,
    )
    current = rows(
        [answer(11, language="en"), answer(12, language="en")],
        [rating(11, "ana", 3, 3), rating(12, "ana", 5, 5), rating(12, "budi", 4, 5), rating(12, "citra", 1, 5)],
    )
    digest = compute_digest(current, previous, bootstrap=50)
    en = groups(digest, "language")["en"]
    assert (en.previous_scale_ratings, en.scale_ratings) == (((3, 2), (5, 2)), ((3, 1), (5, 3)))
    assert en.previous_scales_differ
    language = breakdown_section(render_markdown(digest), "By language (this period)")
    assert "(en: a mix of 3- and 5-point in both (5-point 50% then 75% of its ratings))" + FOOTNOTE_END in language


def test_equal_fits_on_two_scales_are_not_called_the_same_value():
    """A "Partly fits" (2 of 3) and a 3 of 5 are both a fit of 0.5: the note said every rating had the same value while
    the distribution tables showed two different values on two scales."""
    current = rows(
        [answer(11), answer(12)],
        [rating(11, "ana", 2, 3), rating(11, "budi", 2, 3), rating(12, "ana", 3, 5), rating(12, "budi", 3, 5)],
    )
    markdown = render_markdown(compute_digest(current, None, bootstrap=50))
    assert "Every rating had the same fit (0 to 1) on its scale" in markdown
    assert "Every rating had the same value" not in markdown
    one_scale = rows([answer(11)], [rating(11, "ana", 2, 3), rating(11, "budi", 2, 3)])
    assert "Every rating had the same value" in render_markdown(compute_digest(one_scale, None, bootstrap=50))
