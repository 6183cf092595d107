"""`/scope settings log_off:True` stops the moderation log: the channel it leaves hears it (old → none), nothing is
posted after it, the audit log has it, and /setup shows the step as needing a look."""

from __future__ import annotations

import contextlib
import sqlite3

from tests.e2e.test_mod_log import audit, log_lines, logged, with_log_channel
from tests.e2e.test_scope_commands import reply_text, run
from tests.e2e.test_setup_command import checklist
from tests.unit.test_setup_checklist import steps


def stored_log_channel(world):
    with contextlib.closing(sqlite3.connect(world.tmp_path / "bot.sqlite3")) as conn:
        return conn.execute("SELECT log_channel_id FROM guild_settings").fetchone()[0]


async def test_switching_the_log_off_tells_the_old_channel_and_posts_nothing_after(world, run_bot, moderator):
    async with run_bot():
        log = await with_log_channel(world, moderator)
        reply = await reply_text(world, await run(world, moderator, "scope settings", {"log_off": True}))
        assert reply == (
            "Unscoped answers: **off**. Moderation log channel: none, so the moderation log is off (`log_channel` "
            "chooses a channel)."
        )
        lines = await logged(world, log, 2)
        assert lines[1] == (
            f"<@{moderator}> changed scope settings: moderation log channel <#{log}> → none. The moderation log is "
            "off: nothing more is posted here until `/scope settings log_channel` chooses a channel."
        )
        assert not any(m.pings_anyone for m in world.standin.bot_messages(log))
        assert audit(world)[-1] == f"scope settings: log_channel_id <#{log}> → none"
        assert stored_log_channel(world) is None

        # Later changes are audited and posted nowhere.
        await reply_text(world, await run(world, moderator, "answers settings", {"cooldown_seconds": 4}))
        assert audit(world)[-1] == "answers: cooldown_seconds 10 s → 4 s"
        assert len(log_lines(world, log)) == 2

        again = await reply_text(world, await run(world, moderator, "scope settings", {"log_off": True}))
        assert again.startswith("Nothing changed: these are the settings already. Unscoped answers")
        assert audit(world)[-1] == "answers: cooldown_seconds 10 s → 4 s"

        found = steps(await checklist(world, moderator))
        assert found[3][0] == "⚠️" and "No log channel" in found[3][1]
        assert "`/scope settings log_channel:#channel`" in found[3][1]

        # And on again: the new channel hears it.
        await run(world, moderator, "scope settings", {"log_channel": log})
        assert (await logged(world, log, 3))[2] == (
            f"<@{moderator}> changed scope settings: moderation log channel none → <#{log}>."
        )


async def test_log_off_with_a_log_channel_is_refused_and_changes_nothing(world, run_bot, moderator):
    async with run_bot():
        log = await with_log_channel(world, moderator)
        other = int(world.standin.add_channel(world.guild_id, "mod-log-2")["id"])
        before = audit(world)
        refused = await reply_text(
            world,
            await run(
                world, moderator, "scope settings", {"log_channel": other, "log_off": True, "allow_unscoped": True}
            ),
        )
        assert refused == (
            f"Nothing was changed: `log_channel` posts the moderation log in <#{other}> and `log_off:True` posts it "
            "nowhere. Give one of them."
        )
        assert audit(world) == before
        assert stored_log_channel(world) == log

        # log_off:False switches nothing off, and goes with a channel.
        moved = await reply_text(
            world, await run(world, moderator, "scope settings", {"log_channel": other, "log_off": False})
        )
        assert moved.endswith(f"Moderation log channel: <#{other}>.")
        assert audit(world)[-1] == f"scope settings: log_channel_id <#{log}> → <#{other}>"
