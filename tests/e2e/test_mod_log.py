"""Every moderator settings change reaches the moderation log channel (who, old → new, pinging nobody) and the
audit log (old → new); a change that changes nothing says so and leaves no trace in either."""

from __future__ import annotations

import contextlib
import sqlite3

from bot.feedback.consent import CONSENT_TEXT_VERSION
from tests.e2e.test_scope_commands import reply_text, run


def audit(world):
    with contextlib.closing(sqlite3.connect(world.tmp_path / "bot.sqlite3")) as conn:
        return [row[0] for row in conn.execute("SELECT detail FROM audit_log ORDER BY entry_id")]


def log_lines(world, channel):
    return [m.content for m in world.standin.bot_messages(channel)]


async def logged(world, channel, count):
    """The log channel's lines once it holds `count` of them."""
    await world.standin.wait_for(lambda: len(log_lines(world, channel)) >= count, what=f"{count} log lines")
    return log_lines(world, channel)


async def with_log_channel(world, moderator):
    channel = int(world.standin.add_channel(world.guild_id, "mod-log")["id"])
    await run(world, moderator, "scope settings", {"log_channel": channel})
    await logged(world, channel, 1)
    return channel


async def test_answer_settings_changes_reach_the_log_with_old_and_new_values(world, run_bot, moderator):
    ask = int(world.standin.add_channel(world.guild_id, "ask")["id"])
    async with run_bot():
        log = await with_log_channel(world, moderator)
        assert log_lines(world, log) == [
            f"<@{moderator}> changed scope settings: moderation log channel none → <#{log}>."
        ]
        for count, (command, options) in enumerate(
            [
                ("answers settings", {"daily_token_budget": 20_000, "cooldown_seconds": 10}),
                ("answers settings", {"daily_token_budget": 0}),
                ("answers channel-add", {"channel": ask}),
                ("answers channel-remove", {"channel": ask}),
            ],
            start=2,
        ):
            await run(world, moderator, command, options)
            lines = await logged(world, log, count)
        assert lines[1:] == [
            f"<@{moderator}> changed answers: daily token budget 200,000 → 20,000.",
            f"<@{moderator}> changed answers: daily token budget 20,000 → 0 (answers off).",
            f"<@{moderator}> changed answers: answers in every channel I can read → <#{ask}>.",
            f"<@{moderator}> changed answers: answers in <#{ask}> → every channel I can read.",
        ]
        assert not any(m.pings_anyone for m in world.standin.bot_messages(log))
        # The audit rows say old → new too, by the settings' stored names; the unchanged cooldown is left out.
        assert audit(world)[-4:] == [
            "answers: daily_token_budget 200,000 → 20,000",
            "answers: daily_token_budget 20,000 → 0 (answers off)",
            f"answers: answer_channels every channel I can read → <#{ask}>",
            f"answers: answer_channels <#{ask}> → every channel I can read",
        ]


async def test_digest_and_research_changes_reach_the_log(world, run_bot, moderator, digest_channel):
    researchers = world.standin.add_role(world.guild_id, "Researchers")
    async with run_bot():
        log = await with_log_channel(world, moderator)
        await run(world, moderator, "digest schedule", {"when": "daily", "timezone": "Asia/Jakarta"})
        await logged(world, log, 2)
        await run(world, moderator, "digest channel", {"channel": digest_channel})
        await logged(world, log, 3)
        await run(world, moderator, "digest research-role", {"role": researchers["id"]})
        await logged(world, log, 4)
        await run(world, moderator, "digest off")
        await logged(world, log, 5)
        await run(world, moderator, "research settings", {"retention_days": 30, "research_contact": "Uni A"})
        lines = await logged(world, log, 6)
        assert lines[1:] == [
            f"<@{moderator}> changed digest: digest schedule `0 9 * * mon` → `0 9 * * *`; digest time zone UTC → "
            "Asia/Jakarta.",
            f"<@{moderator}> changed digest: digest channel none → <#{digest_channel}>.",
            f"<@{moderator}> changed digest: research role none → <@&{researchers['id']}>.",
            f"<@{moderator}> changed digest: digests on → off.",
            f"<@{moderator}> changed research settings: retention of raw text 180 days → 30 days; research contact "
            "none → “Uni A”; consent notice revision 1 → 2; consent notice changed, "
            f"now version {CONSENT_TEXT_VERSION}.2: members who agreed before are asked again.",
        ]
        assert not any(m.pings_anyone for m in world.standin.bot_messages(log)), "not even the research role"
        # The digest's audit rows keep their prefix (the digest service finds when digests were set up by it).
        assert audit(world)[-5:-1] == [
            "digest: digest_cron `0 9 * * mon` → `0 9 * * *`; digest_timezone UTC → Asia/Jakarta",
            f"digest: digest_channel_id none → <#{digest_channel}>",
            f"digest: research_role_id none → <@&{researchers['id']}>",
            "digest: digest_enabled on → off",
        ]


async def test_a_change_that_changes_nothing_says_so_and_leaves_no_trace(world, run_bot, moderator):
    async with run_bot():
        log = await with_log_channel(world, moderator)
        off = await reply_text(world, await run(world, moderator, "digest off"))
        assert off.startswith("Digests are off.")
        await logged(world, log, 2)
        before = audit(world)

        again = await reply_text(world, await run(world, moderator, "digest off"))
        assert again.startswith("Nothing changed. Digests are off.")
        contact = await run(world, moderator, "research settings", {"research_contact": "none"})
        assert contact.response_data["content"].startswith("**Research settings** (nothing changed)\n")
        same = await reply_text(world, await run(world, moderator, "answers settings", {"cooldown_seconds": 10}))
        assert same.startswith("Nothing changed: these are the settings already.\nAnswers in:")
        unscoped = await reply_text(world, await run(world, moderator, "scope settings", {"allow_unscoped": False}))
        assert unscoped.startswith("Nothing changed: these are the settings already. Unscoped answers: **off**.")
        assert audit(world) == before

        # Only the next real change is posted: none of the above was.
        await run(world, moderator, "answers settings", {"cooldown_seconds": 5})
        lines = await logged(world, log, 3)
        assert lines[2:] == [f"<@{moderator}> changed answers: cooldown per member 10 s → 5 s."]
        assert audit(world)[len(before) :] == ["answers: cooldown_seconds 10 s → 5 s"]


async def test_moving_the_log_channel_tells_both_channels(world, run_bot, moderator):
    async with run_bot():
        old = await with_log_channel(world, moderator)
        new = int(world.standin.add_channel(world.guild_id, "mod-log-2")["id"])
        await run(world, moderator, "scope settings", {"log_channel": new})
        moved = f"<@{moderator}> changed scope settings: moderation log channel <#{old}> → <#{new}>."
        assert (await logged(world, old, 2))[1] == moved
        assert await logged(world, new, 1) == [moved]


async def test_a_log_channel_the_bot_can_no_longer_post_in_never_fails_a_change(world, run_bot, moderator):
    async with run_bot():
        log = await with_log_channel(world, moderator)
        world.standin.set_permission_overwrite(log, world.standin.bot_user_id, deny=1 << 11, type=1)  # Send Messages
        reply = await reply_text(world, await run(world, moderator, "answers settings", {"cooldown_seconds": 3}))
        assert reply.startswith("Answers in: every channel I can read\nCooldown per member: 3 s")
        world.standin.delete_channel(log)
        reply = await reply_text(world, await run(world, moderator, "answers settings", {"cooldown_seconds": 4}))
        assert reply.startswith("Answers in: every channel I can read\nCooldown per member: 4 s")
        # (Between them, the deleted log channel was cleared: tests/e2e/test_deleted_channels.py.)
        changes = [row for row in audit(world) if row.startswith("answers: ")]
        assert changes[-2:] == ["answers: cooldown_seconds 10 s → 3 s", "answers: cooldown_seconds 3 s → 4 s"]
