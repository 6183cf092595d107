"""Channels deleted while the settings name them, through the stand-in's CHANNEL_DELETE: a deleted answer channel
leaves the list, except the last (the bot then answers nowhere, not everywhere); a deleted log channel is cleared; a
deleted digest channel stays (digests wait for another); the moderation log is told. The same at start-up for
channels deleted while the bot was offline. /setup flags what is left to do, and `/answers channel-remove` takes a
deleted channel off the list."""

from __future__ import annotations

import contextlib
import sqlite3

from tests.e2e.test_answer_channels import stored_channels
from tests.e2e.test_mod_log import audit, log_lines, logged, with_log_channel
from tests.e2e.test_scope_commands import reply_text, run
from tests.e2e.test_setup_command import checklist
from tests.helpers import eventually
from tests.unit.test_setup_checklist import steps


def stored(world, column):
    with contextlib.closing(sqlite3.connect(world.tmp_path / "bot.sqlite3")) as conn:
        return conn.execute(f"SELECT {column} FROM guild_settings").fetchone()[0]


def last_channel_note(bot_id, channel):
    return (
        f"<@{bot_id}> noted that <#{channel}> was deleted. No other channel I answer in is left, so I answer "
        "nowhere now (an empty list would mean every channel I can read). Choose where I answer with `/answers "
        "channel-add`; or take the deleted channel off the list with `/answers channel-remove` (it is offered as "
        "“deleted channel <id>”), and then I answer in every channel I can read."
    )


def digest_note(bot_id, channel):
    return (
        f"<@{bot_id}> noted that <#{channel}>, the digest channel, was deleted. Digests are kept, not lost: they are "
        "posted once `/digest channel` names another channel."
    )


def add_channels(world, *names):
    return [int(world.standin.add_channel(world.guild_id, name)["id"]) for name in names]


async def test_a_deleted_answer_channel_leaves_the_list_and_the_log_says_so(world, run_bot, moderator):
    ask, more = add_channels(world, "ask", "ask-more")
    async with run_bot():
        log = await with_log_channel(world, moderator)
        for channel in (ask, more):
            await run(world, moderator, "answers channel-add", {"channel": channel})
        await logged(world, log, 3)
        world.standin.delete_channel(ask)
        lines = await logged(world, log, 4)
        me = world.standin.bot_user_id
        assert (
            lines[3]
            == f"<@{me}> changed settings, as <#{ask}> was deleted: answers in <#{ask}>, <#{more}> → <#{more}>."
        )
        assert not any(m.pings_anyone for m in world.standin.bot_messages(log))
        assert stored_channels(world) == [more]
        assert audit(world)[-1] == (
            f"settings, as <#{ask}> was deleted: answer_channels <#{ask}>, <#{more}> → <#{more}>"
        )
        found = steps(await checklist(world, moderator))
        assert found[2][0] == "✅"


async def test_the_last_answer_channel_deleted_leaves_the_bot_answering_nowhere_until_a_moderator_chooses(
    world, run_bot, moderator
):
    [ask] = add_channels(world, "ask")
    async with run_bot():
        log = await with_log_channel(world, moderator)
        await run(world, moderator, "answers channel-add", {"channel": ask})
        await logged(world, log, 2)
        world.standin.delete_channel(ask)
        lines = await logged(world, log, 3)
        assert lines[2] == last_channel_note(world.standin.bot_user_id, ask)
        assert stored_channels(world) == [ask], "kept: an empty list would be every channel"
        assert audit(world)[-1] == f"<#{ask}> was deleted: no other answer channel is left, so it stays listed"

        # Members elsewhere are not answered, and are not pointed to the deleted channel.
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I greet them?"))
        line = await world.standin.wait_for_message(world.channel_id, lambda m: "answering" in m.content)
        assert line.content == (
            "I'm not answering questions anywhere in this server right now: the channels I answered in were deleted. "
            "Moderators: `/setup` shows how to choose where I answer."
        )
        assert world.model.chat_requests == []

        found = steps(await checklist(world, moderator))
        assert found[2][0] == "⚠️" and "None of these channels exists any more, so I answer nowhere" in found[2][1]
        assert "`/answers channel-add`" in found[2][1] and "`/answers channel-remove`" in found[2][1]

        # The deleted channel is offered for removal, and removing it says what that means.
        choices = await world.standin.autocomplete(
            world.guild_id, world.channel_id, moderator, "answers channel-remove", {"channel": ""}, "channel"
        )
        assert choices == [{"name": f"deleted channel {ask}", "value": str(ask)}]
        removed = await reply_text(world, await run(world, moderator, "answers channel-remove", {"channel": str(ask)}))
        assert removed.startswith(
            f"Removed deleted channel {ask}. **That was the last answer channel: I now answer in every channel I can "
            "read.**"
        )
        assert stored_channels(world) == []
        assert (await logged(world, log, 4))[3] == (
            f"<@{moderator}> changed answers: answers in <#{ask}> → every channel I can read."
        )


async def test_adding_a_channel_after_the_last_was_deleted_takes_the_deleted_one_off(world, run_bot, moderator):
    ask, fresh = add_channels(world, "ask", "ask-fresh")
    async with run_bot():
        await run(world, moderator, "answers channel-add", {"channel": ask})
        world.standin.delete_channel(ask)
        await eventually(lambda: any(row.startswith(f"<#{ask}> was deleted") for row in audit(world)))
        added = await reply_text(world, await run(world, moderator, "answers channel-add", {"channel": fresh}))
        assert added.startswith(f"Added #ask-fresh; took deleted channel {ask} off the list.\nAnswers in: <#{fresh}>\n")
        assert stored_channels(world) == [fresh]


async def test_channel_remove_offers_the_listed_channels_and_takes_a_typed_name(world, run_bot, moderator):
    ask, more = add_channels(world, "ask", "ask-more")
    async with run_bot():
        for channel in (ask, more):
            await run(world, moderator, "answers channel-add", {"channel": channel})
        choices = await world.standin.autocomplete(
            world.guild_id, world.channel_id, moderator, "answers channel-remove", {"channel": "more"}, "channel"
        )
        assert choices == [{"name": "#ask-more", "value": str(more)}]
        refused = await reply_text(
            world, await run(world, moderator, "answers channel-remove", {"channel": "#general"})
        )
        assert refused == (
            "`#general` is not in the list of answer channels. Pick one of those `/answers channel-remove` offers as "
            "you type; `/answers settings` shows the list."
        )
        assert stored_channels(world) == [ask, more]
        removed = await reply_text(
            world, await run(world, moderator, "answers channel-remove", {"channel": "#ask-more"})
        )
        assert removed.startswith(f"Removed #ask-more.\nAnswers in: <#{ask}>\n")
        assert stored_channels(world) == [ask]


async def test_a_deleted_log_channel_is_cleared(world, run_bot, moderator):
    async with run_bot():
        log = await with_log_channel(world, moderator)
        world.standin.delete_channel(log)
        await eventually(lambda: stored(world, "log_channel_id") is None, what="the log channel cleared")
        assert audit(world)[-1] == f"settings, as <#{log}> was deleted: log_channel_id <#{log}> → none"
        found = steps(await checklist(world, moderator))
        assert found[3][0] == "⚠️" and "No log channel" in found[3][1]


async def test_a_deleted_digest_channel_is_kept_and_the_log_is_told(world, run_bot, moderator, digest_channel):
    async with run_bot():
        log = await with_log_channel(world, moderator)
        await run(world, moderator, "digest channel", {"channel": digest_channel})
        await logged(world, log, 2)
        world.standin.delete_channel(digest_channel)
        assert (await logged(world, log, 3))[2] == digest_note(world.standin.bot_user_id, digest_channel)
        assert stored(world, "digest_channel_id") == digest_channel
        found = steps(await checklist(world, moderator))
        assert found[5][0] == "⚠️"
        assert f"<#{digest_channel}> no longer exists: choose another with `/digest channel`." in found[5][1]


async def test_channels_deleted_while_the_bot_was_offline_are_found_at_start(world, run_bot, moderator, digest_channel):
    ask, more = add_channels(world, "ask", "ask-more")
    async with run_bot():
        log = await with_log_channel(world, moderator)
        for channel in (ask, more):
            await run(world, moderator, "answers channel-add", {"channel": channel})
        await run(world, moderator, "digest channel", {"channel": digest_channel})
        await logged(world, log, 4)
    world.standin.delete_channel(ask)
    world.standin.delete_channel(digest_channel)
    me = world.standin.bot_user_id
    async with run_bot():
        lines = await logged(world, log, 6)
        deleted = ", ".join(f"<#{c}>" for c in sorted((ask, digest_channel)))
        assert lines[4:] == [
            f"<@{me}> changed settings, as {deleted} were deleted: answers in <#{ask}>, <#{more}> → <#{more}>.",
            digest_note(me, digest_channel),
        ]
        assert stored_channels(world) == [more]
        found = steps(await checklist(world, moderator))
        assert f"<#{digest_channel}> no longer exists" in found[5][1]
    world.standin.delete_channel(more)
    async with run_bot():
        lines = await logged(world, log, 7)
        assert lines[6] == last_channel_note(me, more)
        assert stored_channels(world) == [more]
        found = steps(await checklist(world, moderator))
        assert "I answer nowhere" in found[2][1]
    # Once told, a restart does not tell again.
    async with run_bot():
        found = steps(await checklist(world, moderator))
        assert "I answer nowhere" in found[2][1]
        assert len(log_lines(world, log)) == 7
