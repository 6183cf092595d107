"""A quote names its comment id, so that a shortened quote's full text can be found in comments.csv/jsonl, and
"How to read this" says that long quotes are shortened."""

from __future__ import annotations

import csv
from pathlib import Path

from bot.digests.commentary import QUOTE_EXCERPT
from bot.digests.report import render_html, render_markdown, write_exports
from bot.digests.stats import compute_digest
from tests.digests.test_stats import answer, comment, rating, rows

LONG = " ".join(f"word{i}" for i in range(200))  # 1,289 characters: past the 500 a quote keeps


def digest_with_a_long_quote():
    current = rows(
        [answer(999)],
        [rating(999, "ana", 2)],
        comments=[comment(1234, 999, "ana", LONG)],
    )
    return current, compute_digest(current, None, bootstrap=50)


def test_the_quote_footer_names_the_comment_and_the_full_text_is_in_the_files(tmp_path: Path):
    current, digest = digest_with_a_long_quote()
    [quote] = digest.quotes
    assert len(quote.text) <= QUOTE_EXCERPT < len(LONG)
    assert quote.text.endswith("…")

    markdown = render_markdown(digest)
    assert "— Member A, on answer 999, comment 1234 (rated 2/3)" in markdown
    assert "Member A, on answer 999, comment 1234 (rated 2/3)" in render_html(digest)

    write_exports(current, tmp_path)
    with (tmp_path / "comments.csv").open(newline="", encoding="utf-8") as file:
        by_id = {row["comment_id"]: row["text"] for row in csv.DictReader(file)}
    assert by_id["1234"] == LONG


def test_how_to_read_says_long_quotes_are_shortened():
    _, digest = digest_with_a_long_quote()
    reading = render_markdown(digest).split("## How to read this")[1]
    assert (
        'A quote longer than 500 characters is shortened and ends in "…"; the comment id under it finds the full '
        "text in comments.csv and comments.jsonl."
    ) in reading
