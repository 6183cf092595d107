"""A server's digest counts fit over time on the server's own days (its digest time zone), through the real
digest workers, and its files say so (bot/digests/groups.py `day_column`)."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from datetime import UTC, datetime, time, timedelta

from tests.e2e.test_digests import db, digest_posts, rated_answers
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
