"""Fit over time counts days on the server's clocks (its digest time zone), and the digest says whose (digest.json's
day_basis, the chart's title, "How to read this").

The fixture, by hand: answer 1 asked 2026-11-17 23:30 UTC (18 November, 06:30 in Asia/Jakarta, 05:00 in
Asia/Kolkata), rated "Fits" (fit 1); answer 2 asked 2026-11-18 01:00 UTC (08:00 in Jakarta), rated "Does not fit"
(fit 0); answer 3 asked 2026-11-18 18:20 UTC (23:50 in Kolkata, UTC+05:30; 01:20 on the 19th in Jakarta), rated
"Partly fits" (fit 0.5).
- UTC days: the 17th (1.0) and the 18th (0.0 and 0.5: 0.25).
- Jakarta's days: the 18th (1.0 and 0.0: 0.5) and the 19th (0.5).
- Kolkata's days (a half-hour offset: counted to the minute): the 18th (all three: 0.5).
"""

from __future__ import annotations

import dataclasses
import html
import json
from datetime import datetime, timedelta

import pytest

from bot.digests.groups import local_day
from bot.digests.report import render_html, render_json, render_markdown
from bot.digests.stats import compute_digest
from bot.digests.summary import digest_embed
from tests.digests.test_stats import END, START, answer, rating, rows


def fixture_rows():
    answers = [
        dataclasses.replace(answer(1), created_at="2026-11-17T23:30:00.000Z"),
        dataclasses.replace(answer(2), created_at="2026-11-18T01:00:00.000Z"),
        dataclasses.replace(answer(3), created_at="2026-11-18T18:20:00.000Z"),
    ]
    return rows(answers, [rating(1, "ana", 3), rating(2, "ana", 1), rating(3, "ana", 2)])


@pytest.mark.parametrize(
    ("timezone", "days"),
    [
        ("UTC", [("2026-11-17", 1.0), ("2026-11-18", 0.25)]),
        ("Asia/Jakarta", [("2026-11-18", 0.5), ("2026-11-19", 0.5)]),
        ("Asia/Kolkata", [("2026-11-18", 0.5)]),
    ],
)
def test_timeline_days_are_the_servers_days_and_digest_json_says_whose(timezone, days):
    digest = compute_digest(fixture_rows(), None, timezone=timezone)

    assert [(point.day, point.mean_fit.value) for point in digest.timeline] == days
    assert digest.day_basis == timezone
    plain = json.loads(render_json(digest))
    assert plain["day_basis"] == timezone
    assert [point["day"] for point in plain["timeline"]] == [day for day, _ in days]


def test_how_to_read_this_says_whose_days_they_are():
    digest = compute_digest(fixture_rows(), None, timezone="Asia/Jakarta")
    sentence = (
        "Fit over time (the chart's line, and the timeline in digest.json, whose day\\_basis says so) counts each "
        "answer on the day it was asked in Asia/Jakarta, and weeks from Monday there"
    )
    how_to_read = render_markdown(digest).split("## How to read this")[1]
    assert sentence in how_to_read
    assert html.escape(sentence.replace("\\_", "_")) in render_html(digest)


def test_local_day_takes_timestamps_to_the_minute_or_hour_and_leaves_other_text():
    from zoneinfo import ZoneInfo

    kolkata = ZoneInfo("Asia/Kolkata")
    assert local_day("2026-11-18T18:29:59.999Z", kolkata) == "2026-11-18"
    assert local_day("2026-11-18T18:30:00.000Z", kolkata) == "2026-11-19"
    assert local_day("2026-11-18T18:30", kolkata) == "2026-11-19"
    assert local_day("2026-11-18T17", ZoneInfo("Asia/Jakarta")) == "2026-11-19"
    assert local_day("2026-11-18T17:00:00.000Z", None) == "2026-11-18"
    assert local_day("unknown", kolkata) == "unknown"[:10]


def test_the_report_gives_the_period_on_the_servers_clocks_too():
    jakarta = compute_digest(fixture_rows(), None, bootstrap=10, timezone="Asia/Jakarta")
    utc = compute_digest(fixture_rows(), None, bootstrap=10)
    in_utc = f"{START[:10]} {START[11:16]} UTC to {END[:10]} {END[11:16]} UTC (end excluded)"
    # Jakarta is UTC+7 all year: the same instants, seven hours later on its clocks.
    start_local = (datetime.fromisoformat(START.replace("Z", "+00:00")) + timedelta(hours=7)).strftime("%Y-%m-%d %H:%M")
    end_local = (datetime.fromisoformat(END.replace("Z", "+00:00")) + timedelta(hours=7)).strftime("%Y-%m-%d %H:%M")
    assert f"Period {in_utc}; {start_local} to {end_local} Asia/Jakarta;" in render_markdown(jakarta)
    assert f"Period {in_utc}; server id" in render_markdown(utc), "a UTC server's period is said once"


def test_the_embed_gives_the_period_in_each_readers_time_and_in_utc():
    digest = compute_digest(fixture_rows(), None, bootstrap=10, timezone="Asia/Jakarta")
    description = digest_embed(digest, None, "footer").description or ""
    start, end = (int(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()) for t in (START, END))
    assert description.startswith(
        f"<t:{start}:f> – <t:{end}:f> (your time; {START[:10]} {START[11:16]} – {END[:10]} {END[11:16]} UTC)."
    )


def test_answers_are_counted_on_their_local_day_where_the_offset_is_whole_hours_only_at_the_ends():
    """Lord Howe Island is +11 in its summer and +10:30 in winter: with answers from summer to summer, minute
    precision was decided from the two ends only, and a winter answer at 13:45 UTC (00:15 the next day there) was
    counted on the day before."""
    from zoneinfo import ZoneInfo

    from bot.digests.groups import day_column
    from bot.digests.periods import AnswerTable
    from tests.digests.test_stats import answer

    stamps = ["2025-12-01T00:00:00.000Z", "2026-06-10T13:45:00.000Z", "2026-12-01T00:00:00.000Z"]
    table = AnswerTable.of([dataclasses.replace(answer(n), created_at=at) for n, at in enumerate(stamps, 1)])
    column = day_column(table, "Australia/Lord_Howe")
    binned = [column.keys[code] for code in column.codes]
    assert binned == [local_day(stamp, ZoneInfo("Australia/Lord_Howe")) for stamp in stamps]
    assert binned[1] == "2026-06-11"
