"""The exports' column-at-a-time writers give, byte for byte, what a plain cell-by-cell writer gives.

The writers merge constant text into neighbouring columns' encodings, share one scan of each column between
both files and spell numbers once for both; a slow reference written from the format rules checks them on
random rows full of edge cases: nulls in columns of few values and in others, quotes, commas, CR/LF,
control characters, non-ASCII text, U+2028/U+2029, mention tokens, texts starting like a spreadsheet formula,
a scale of one value (a null fit).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from bot.digests import exports
from bot.digests.codebook import render_markdown
from bot.digests.exports import write_exports
from bot.digests.rows import AnswerRow, CommentRow, DigestRows, RatingRow, ReasonRow
from bot.digests.text import strip_mention_ids

# No DEL (127): the ASCII-only JSON encoder escapes it and json.dumps(ensure_ascii=False) does not; which of
# the two a column uses is covered by test_report.
PIECES = [*"abc xyz.,;:'\"\\\t\r\n\x00\x1féñ中😀\u2028\u2029<>@&=+-", "<@123>", "<@!45>", "<@&67>", "@everyone"]


def text(rng: random.Random, kind: str) -> str:
    length = rng.choice([0, 1, 4, 30, 200])
    if kind == "plain":
        return "".join(rng.choice("abc xyz.") for _ in range(length))
    if kind == "comma":
        return "".join(rng.choice("abc, xyz.") for _ in range(length))
    return "".join(rng.choice(PIECES) for _ in range(length))


def random_rows(seed: int) -> DigestRows:
    rng = random.Random(seed)
    kinds = [rng.choice(["plain", "comma", "mixed"]) for _ in range(8)]
    null_share = rng.choice([0.0, 0.3])

    def t(index: int) -> str:
        return text(rng, kinds[index])

    def maybe(value: Any) -> Any:
        return None if rng.random() < null_share else value

    answers = [
        AnswerRow(
            rng.randint(-5, 10**12),
            rng.randint(0, 3),
            t(0),
            rng.choice(["a" * 32, "forgotten-42", t(1)]),
            t(2),
            t(3),
            rng.choice(["ok", "failed", t(4)]),
            maybe(rng.randint(1, 4)),
            maybe(rng.choice(["en", "vi", t(5)])),
            maybe(rng.choice(["funeral", "", t(6)])),
            maybe(rng.randint(0, 9999)),
            maybe(rng.randint(0, 9999)),
            rng.random() < 0.5,
            maybe(700),
            maybe(rng.randint(0, 10**6)),
            maybe(rng.choice(["3:alternative", t(7)])),
            maybe(rng.choice(["gpt-4o-mini", t(0)])),
            rng.random() < 0.5,
            maybe(rng.randint(0, 10**12)),
            rng.random() < 0.5,
        )
        for _ in range(rng.choice([0, 1, 12]))
    ]
    ratings = []
    for _ in range(rng.choice([0, 1, 30])):
        scale = rng.choice([1, 2, 3, 5, 7]) if rng.random() < 0.2 else rng.choice([3, 5])
        ratings.append(
            RatingRow(
                rng.randint(0, 9),
                rng.choice(["b" * 32, t(0)]),
                rng.randint(1, scale),
                scale,
                rng.random() < 0.5,
                rng.choice(["button", "reaction", t(1)]),
                t(2),
                t(3),
            )
        )
    reasons = [ReasonRow(rng.randint(0, 9), t(0), rng.choice(["too generic", t(1)])) for _ in range(rng.choice([0, 9]))]
    comments = [
        CommentRow(index, rng.randint(0, 9), t(0), t(1), rng.random() < 0.5, t(2))
        for index in range(rng.choice([0, 9]))
    ]
    return DigestRows(seed, "g", "s", "e", answers, ratings, reasons, comments)


def pseudonym(guild_id: int, stored: str) -> str:
    """A member's pseudonym in one server's files, as the codebook describes it."""
    if stored.startswith("forgotten-"):
        return stored
    return hashlib.sha256(f"culturebot-export:{guild_id}:{stored}".encode()).hexdigest()[:32]


def cell_value(guild_id: int, name: str, value: Any) -> Any:
    if name in exports.TEXT_FIELDS:
        return strip_mention_ids(value)
    if name in ("rater_hash", "asker_hash"):
        return pseudonym(guild_id, value)
    return value


def table(guild_id: int, rows: list[Any], row_type: type[Any]) -> tuple[list[str], list[list[Any]]]:
    """Column names and rows of values as the files hold them: mention tokens stripped, members under the server's
    pseudonyms, ratings' fit added."""
    names = [field.name for field in dataclasses.fields(row_type)]
    records = []
    for row in rows:
        values = [cell_value(guild_id, name, getattr(row, name)) for name in names]
        if row_type is RatingRow:
            values.append((row.value - 1) / (row.scale_size - 1) if row.scale_size > 1 else None)
        records.append(values)
    return names + (["fit"] if row_type is RatingRow else []), records


def reference_csv(names: list[str], records: list[list[Any]]) -> bytes:
    quoted = [
        any(isinstance(value, str) and any(c in value for c in '",\r\n') for value in column)
        for column in zip(*records, strict=True)
    ] or [False] * len(names)

    def cell(value: Any, quote: bool) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            # A formula to a spreadsheet: shown as text; and a leading "'", so that removing one gives the text.
            text = "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r", "'") else value
            return '"' + text.replace('"', '""') + '"' if quote else text
        return repr(value)

    lines = [",".join(names)] + [",".join(map(cell, record, quoted)) for record in records]
    return "".join(line + "\r\n" for line in lines).encode("utf-8")


def reference_jsonl(names: list[str], records: list[list[Any]]) -> bytes:
    lines = (
        json.dumps(dict(zip(names, record, strict=True)), ensure_ascii=False, separators=(",", ":"))
        for record in records
    )
    text = "".join(line + "\n" for line in lines)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode("utf-8")


@pytest.mark.parametrize("seed", range(60))
def test_exports_match_a_cell_by_cell_writer(tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    if seed % 2:  # lines split across batches, texts scanned in pieces
        monkeypatch.setattr(exports, "_BATCH", 4)
        monkeypatch.setattr(exports, "_SCAN", 7)
    data = random_rows(seed)
    write_exports(data, tmp_path)
    tables: list[tuple[str, list[Any], type[Any]]] = [
        ("answers", data.answers, AnswerRow),
        ("ratings", data.ratings, RatingRow),
        ("reasons", data.reasons, ReasonRow),
        ("comments", data.comments, CommentRow),
    ]
    for name, rows, row_type in tables:
        names, records = table(data.guild_id, rows, row_type)
        assert (tmp_path / f"{name}.csv").read_bytes() == reference_csv(names, records), name
        assert (tmp_path / f"{name}.jsonl").read_bytes() == reference_jsonl(names, records), name


@pytest.mark.parametrize("seed", range(10))
def test_the_codebooks_advice_recovers_every_text_of_the_csv_files_as_the_jsonl_holds_it(tmp_path: Path, seed: int):
    # The pattern the codebook gives for pandas' str.replace, taken from the codebook itself.
    advice = re.search(r'\.str\.replace\(r"(.+?)", "", regex=True\)', render_markdown())
    assert advice is not None
    unprefix = re.compile(advice.group(1))
    data = random_rows(seed)
    write_exports(data, tmp_path)
    for name in ("answers", "comments"):
        with (tmp_path / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            from_csv = list(csv.DictReader(handle))
        lines = (tmp_path / f"{name}.jsonl").read_text(encoding="utf-8").split("\n")[:-1]  # not splitlines: U+0085
        from_jsonl = [json.loads(line) for line in lines]
        columns = ["question", "answer"] if name == "answers" else ["text"]
        for cells, record in zip(from_csv, from_jsonl, strict=True):
            for column in columns:
                assert unprefix.sub("", cells[column]) == (record[column] or ""), (name, column)
