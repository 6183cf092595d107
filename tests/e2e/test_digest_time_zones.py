"""Time zones that are no place (EST, Etc/GMT-7, CET, ...) are refused where moderators and researchers type them;
a schedule saved in one by an earlier version keeps running (bot/digests/schedule.py `not_a_place`)."""

from __future__ import annotations

from bot.digests.schedule import saved_trigger
from tests.e2e.conftest import set_guild_settings
from tests.e2e.test_digests import researcher_with_a_day, rows
from tests.e2e.test_scope_commands import reply_text, run


async def test_zones_that_are_no_place_are_refused_and_nothing_is_changed(world, run_bot, moderator):
    researcher_role, researcher, span = researcher_with_a_day(world)
    async with run_bot(cooldown=0):
        await reply_text(world, await run(world, moderator, "digest schedule", {"when": "weekly", "timezone": "UTC"}))
        stored = rows(world, "SELECT digest_cron, digest_timezone FROM guild_settings")
        for zone, message in [
            ("EST", "`EST` is a fixed offset (UTC-5 all year) that ignores daylight saving"),
            ("Etc/GMT-7", "`Etc/GMT-7` is a fixed offset (UTC+7: the Etc names' signs are reversed)"),
            ("localtime", "`localtime` is this computer's own setting"),
        ]:
            text = await reply_text(
                world, await run(world, moderator, "digest schedule", {"when": "daily", "timezone": zone})
            )
            assert text.startswith(message), text
            assert rows(world, "SELECT digest_cron, digest_timezone FROM guild_settings") == stored
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researcher_role["id"]}))
        refused = await reply_text(world, await run(world, researcher, "research-export", span | {"timezone": "CET"}))
        assert refused.startswith("`CET` is an old abbreviation-style name, not a place"), refused


async def test_a_schedule_saved_in_such_a_zone_keeps_running(world, run_bot):
    await set_guild_settings(world.settings(), world.guild_id, {"digest_cron": "0 9 * * mon", "digest_timezone": "EST"})
    async with run_bot(cooldown=0) as bot:
        settings = await bot.storage.guild_settings(world.guild_id)
        trigger = saved_trigger(settings)
        assert trigger is not None and str(trigger.timezone) == "EST"


async def test_changing_only_the_time_keeps_such_a_saved_zone_and_says_why_to_change_it(world, run_bot, moderator):
    await set_guild_settings(
        world.settings(), world.guild_id, {"digest_cron": "0 9 * * mon", "digest_timezone": "EST", "digest_enabled": 0}
    )
    async with run_bot(cooldown=0) as bot:
        # The moderator typed no time zone: digests go back on at the new time, in the zone saved before.
        text = await reply_text(world, await run(world, moderator, "digest schedule", {"when": "daily"}))
        assert text.startswith("Digests are on again. Digest schedule: `0 9 * * *` in EST;"), text
        assert text.endswith(
            "The time zone saved before is kept; typed today it would be refused (change it with `timezone:`). `EST` "
            "is a fixed offset (UTC-5 all year) that ignores daylight saving: use your city's IANA time zone, which "
            "follows its daylight-saving rules, e.g. `America/Atikokan`, `America/Bogota`, `America/Cancun` (now at "
            "that offset)."
        ), text
        assert rows(world, "SELECT digest_cron, digest_timezone, digest_enabled FROM guild_settings") == [
            ("0 9 * * *", "EST", 1)
        ]
        trigger = saved_trigger(await bot.storage.guild_settings(world.guild_id))
        assert trigger is not None and str(trigger.timezone) == "EST"
