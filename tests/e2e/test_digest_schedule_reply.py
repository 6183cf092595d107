"""`/digest schedule` switches digests back on after `/digest off`, and its reply says so."""

from __future__ import annotations

import contextlib
import sqlite3

from tests.e2e.test_scope_commands import reply_text, run


def enabled(world):
    with contextlib.closing(sqlite3.connect(world.tmp_path / "bot.sqlite3")) as conn:
        return conn.execute("SELECT digest_enabled FROM guild_settings").fetchall()


async def test_a_schedule_after_digest_off_says_digests_are_on_again(world, run_bot, moderator):
    async with run_bot():
        first = await reply_text(world, await run(world, moderator, "digest schedule", {"when": "daily"}))
        assert first.startswith("Digest schedule: `0 9 * * *` in UTC"), "digests were on: nothing to say"
        assert (await reply_text(world, await run(world, moderator, "digest off"))).startswith("Digests are off.")
        assert enabled(world) == [(0,)]

        again = await reply_text(world, await run(world, moderator, "digest schedule", {"when": "weekly"}))
        assert again.startswith("Digests are on again. Digest schedule: `0 9 * * mon` in UTC; channel: ")
        assert enabled(world) == [(1,)]
        # The same schedule once more, with digests on: nothing changed, nothing switched on.
        same = await reply_text(world, await run(world, moderator, "digest schedule", {"when": "weekly"}))
        assert same.startswith("Nothing changed. Digest schedule: `0 9 * * mon` in UTC")


async def test_a_schedule_too_long_to_show_is_refused_and_nothing_is_saved(world, run_bot, moderator):
    async with run_bot():
        await reply_text(world, await run(world, moderator, "digest schedule", {"when": "weekly"}))
        when = "0 " + ",".join(["9"] * 1000) + " * * *"
        refused = await reply_text(world, await run(world, moderator, "digest schedule", {"when": when}))
        assert "is too long for a schedule (2,007 characters; at most 100)" in refused, refused
        assert len(refused) < 2000
        with contextlib.closing(sqlite3.connect(world.tmp_path / "bot.sqlite3")) as conn:
            assert conn.execute("SELECT digest_cron FROM guild_settings").fetchall() == [("0 9 * * mon",)]
