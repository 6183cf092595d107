"""The fit timeline's days are UTC days, and the digest says so (digest.json's day_basis, "How to read this").

The fixture, by hand: answer 1 asked 2026-11-17 23:30 UTC (18 November, 06:30 in Asia/Jakarta), rated "Fits" (fit
1); answer 2 asked 2026-11-18 01:00 UTC (08:00 in Jakarta), rated "Does not fit" (fit 0). On Jakarta's calendar
both were asked on 18 November (one day at mean 0.5); on UTC days they fall on the 17th (1.0) and the 18th (0.0).
"""

from __future__ import annotations

import dataclasses
import html
import json

from bot.digests.report import render_html, render_json, render_markdown
from bot.digests.stats import compute_digest
from tests.digests.test_stats import answer, rating, rows


def fixture_rows():
    answers = [
        dataclasses.replace(answer(1), created_at="2026-11-17T23:30:00.000Z"),
        dataclasses.replace(answer(2), created_at="2026-11-18T01:00:00.000Z"),
    ]
    return rows(answers, [rating(1, "ana", 3), rating(2, "ana", 1)])


def test_timeline_days_are_utc_days_and_digest_json_says_so():
    digest = compute_digest(fixture_rows(), None)

    assert [(point.day, point.mean_fit.value) for point in digest.timeline] == [
        ("2026-11-17", 1.0),
        ("2026-11-18", 0.0),
    ]
    assert digest.day_basis == "UTC"
    plain = json.loads(render_json(digest))
    assert plain["day_basis"] == "UTC"
    assert [point["day"] for point in plain["timeline"]] == ["2026-11-17", "2026-11-18"]


def test_how_to_read_this_says_the_days_are_utc_days():
    digest = compute_digest(fixture_rows(), None)
    sentence = (
        "Fit over time (the chart's line, and the timeline in digest.json, whose day\\_basis says so) counts each "
        "answer on the day it was asked in UTC, and weeks from Monday in UTC, not in the server's time zone"
    )
    how_to_read = render_markdown(digest).split("## How to read this")[1]
    assert sentence in how_to_read
    assert "in Asia/Jakarta (UTC+7) an answer asked before 07:00 counts on the day before" in how_to_read
    assert html.escape(sentence.replace("\\_", "_")) in render_html(digest)
