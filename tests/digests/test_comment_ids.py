"""Comments shown under the lowest-fit and split answers name their comment id, as a quote's footer does ("Member
A, on answer 999, comment 1234"), so that a reader finds a shortened comment's full text in comments.csv; the
comments only counted (their authors did not allow quoting) stay without text and without id."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from bot.digests.followup import COMMENT_EXCERPT
from bot.digests.report import render_html, render_json, render_markdown, write_exports
from bot.digests.stats import compute_digest
from tests.digests.test_stats import answer, comment, rating, rows

LONG = " ".join(f"word{i}" for i in range(300))  # 2,189 characters: past the 1,000 an answer's comment keeps


def digest_and_rows():
    """Answer 999: rated 1/3 and 3/3 (lowest fit, 0.5, and split), with a long quotable comment (1234) by ana,
    a short quotable one (1240) by budi and one not quotable (1250) by citra."""
    current = rows(
        [answer(999)],
        [rating(999, "ana", 1), rating(999, "budi", 3), rating(999, "citra", 2)],
        comments=[
            comment(1234, 999, "ana", LONG),
            comment(1240, 999, "budi", "Fits how my office talks."),
            comment(1250, 999, "citra", "Not for quoting, please.", quotable=False),
        ],
    )
    return current, compute_digest(current, None, bootstrap=50)


def section(markdown: str, heading: str) -> str:
    return markdown.split(f"## {heading}")[1].split("\n## ")[0]


def test_lowest_fit_and_split_comments_name_their_comment_ids():
    _, digest = digest_and_rows()
    markdown = render_markdown(digest)
    for part in (section(markdown, "Lowest-fit answers, for follow-up"), section(markdown, "Disagreement")):
        assert "- Member A, comment 1234: word0 word1" in part
        assert "- Member B, comment 1240: Fits how my office talks." in part
        assert "1250" not in part  # counted, never shown
        assert "- 1 more comment not shown: its author did not allow quoting" in part
    page = render_html(digest)
    assert page.count("Member A, comment 1234: word0 word1") == 2
    assert page.count("Member B, comment 1240: Fits how my office talks.") == 2
    assert "1250" not in page


def test_the_id_finds_the_shortened_comments_full_text_and_digest_json_lists_it(tmp_path: Path):
    current, digest = digest_and_rows()
    [note] = digest.lowest_fit
    shown = next(c for c in note.comments if c.comment_id == 1234)
    assert len(shown.text) <= COMMENT_EXCERPT < len(LONG)
    assert shown.text.endswith("…")

    write_exports(current, tmp_path)
    with (tmp_path / "comments.csv").open(newline="", encoding="utf-8") as file:
        by_id = {row["comment_id"]: row["text"] for row in csv.DictReader(file)}
    assert by_id["1234"] == LONG

    plain = json.loads(render_json(digest))
    for notes in (plain["lowest_fit"], plain["disagreement"]["examples"]):
        assert [[c["comment_id"] for c in n["comments"]] for n in notes] == [[1234, 1240]]
        assert [n["unquotable_comments"] for n in notes] == [1]


def test_the_lowest_fit_section_says_what_the_id_is_for():
    _, digest = digest_and_rows()
    lowest = section(render_markdown(digest), "Lowest-fit answers, for follow-up")
    assert "each with its comment id (comments.csv holds its full text)" in lowest
