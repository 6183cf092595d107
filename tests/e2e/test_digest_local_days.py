"""A server's digest counts fit over time on the server's own days (its digest time zone), through the real
digest workers, and its files say so (bot/digests/groups.py `day_column`); `/research-export` reads its dates as
the server's days too unless the researcher names a time zone (bot/digests/service.py `export_timezone`)."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.storage import sqlite_timestamp
from tests.e2e.test_digests import db, digest_posts, rated_answers, researcher_with_a_day
from tests.e2e.test_scope_commands import reply_text, run


async def test_a_digest_counts_days_in_the_servers_time_zone(world, run_bot, moderator, digest_channel):
    today = datetime.now(UTC).date()
    # Asked yesterday at 23:30 UTC: today at 06:30 in Jakarta (UTC+7), within the last seven days `/digest now` covers.
    asked = datetime.combine(today - timedelta(days=1), time(23, 30), tzinfo=UTC)
    async with run_bot(cooldown=0):
        await rated_answers(world, count=1)
        with sqlite3.connect(db(world)) as conn:
            conn.execute("UPDATE answers SET created_at = ?", (asked.strftime("%Y-%m-%dT%H:%M:%S.000Z"),))
        schedule = {"when": "weekly", "timezone": "Asia/Jakarta"}
        await reply_text(world, await run(world, moderator, "digest schedule", schedule))
        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        assert "Digest sent" in await reply_text(world, await run(world, moderator, "digest now"))
        [post] = digest_posts(world, digest_channel)
    with zipfile.ZipFile(io.BytesIO(post.attachment("data.zip").data)) as data:
        digest = json.loads(data.read("digest.json"))
    assert digest["day_basis"] == "Asia/Jakarta"
    assert [point["day"] for point in digest["timeline"]] == [today.isoformat()], "Jakarta's day, not UTC's"
    report = " ".join(post.attachment("report.md").data.decode().split())
    assert "counts each answer on the day it was asked in Asia/Jakarta" in report


async def test_a_research_export_without_a_time_zone_covers_the_servers_days(world, run_bot, moderator):
    researcher_role, researcher, _ = researcher_with_a_day(world)
    day = datetime.now(UTC).date() - timedelta(days=2)
    # Asked the day before at 23:30 UTC: `day` at 06:30 in Jakarta (UTC+7), so in Jakarta's `day` and not in UTC's.
    asked = datetime.combine(day - timedelta(days=1), time(23, 30), tzinfo=UTC)
    async with run_bot(cooldown=0):
        await rated_answers(world, count=1)
        with sqlite3.connect(db(world)) as conn:
            conn.execute("UPDATE answers SET created_at = ?", (sqlite_timestamp(asked),))
        schedule = {"when": "weekly", "timezone": "Asia/Jakarta"}
        await reply_text(world, await run(world, moderator, "digest schedule", schedule))
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researcher_role["id"]}))
        reply = await run(world, researcher, "research-export", {"start": str(day), "end": str(day)})
        followup = await world.standin.wait_for_followup(reply.id, timeout=20)
    assert followup.embeds[0]["footer"]["text"] == f"Research data for {day} – {day} (Asia/Jakarta)"
    assert followup.embeds[0]["fields"][0]["value"].startswith("1 answer, ")
    with zipfile.ZipFile(io.BytesIO(followup.attachment("data.zip").data)) as data:
        digest = json.loads(data.read("digest.json"))
    start = datetime.combine(day, time(0), tzinfo=ZoneInfo("Asia/Jakarta"))  # 17:00 UTC the day before
    assert (digest["start"], digest["end"]) == (sqlite_timestamp(start), sqlite_timestamp(start + timedelta(days=1)))
    assert digest["day_basis"] == "Asia/Jakarta"
