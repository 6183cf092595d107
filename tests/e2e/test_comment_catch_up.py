"""Reply comments whose messages were deleted or edited while the bot was offline, or went with a deleted thread,
follow their messages when it connects again (bot/feedback/comment_catch_up.py, cogs/feedback.py)."""

from __future__ import annotations

import asyncio

from tests.e2e.test_feedback import ask, db, rows
from tests.e2e.test_scope_commands import run
from tests.helpers import eventually, give_consent


async def read_back_at_start(run_bot, caplog):
    caplog.set_level("INFO", logger="bot.runtime")
    caplog.clear()
    async with run_bot():
        await eventually(lambda: "reply comments read back" in caplog.text, what="the comment catch-up")


async def comment(world, answer, member, text):
    reply = await world.standin.send_message(
        world.channel_id, member, f"<@{world.standin.bot_user_id}> fit: {text}", reply_to=answer.id
    )
    await world.standin.wait_for(lambda: world.standin.message(reply["id"]).reactions.get("📝"), what="saved")
    return reply


async def test_comments_deleted_or_edited_while_the_bot_was_offline_follow_their_messages(world, run_bot, caplog):
    await give_consent(db(world), world.guild_id, world.asker_id, "comments")
    await give_consent(db(world), world.guild_id, world.member_id, "comments")
    async with run_bot():
        answer = await ask(world)
        deleted = await comment(world, answer, world.asker_id, "my cousin Wayan disagrees")
        edited = await comment(world, answer, world.member_id, "too formal")
        unprefixed = await comment(world, answer, world.asker_id, "fine for Jakarta")
        kept = await comment(world, answer, world.member_id, "good nuance")
    # Offline: one message deleted, one edited, one no longer a comment.
    await world.standin.delete_message(world.channel_id, deleted["id"])
    await world.standin.edit_message(
        world.channel_id, edited["id"], f"<@{world.standin.bot_user_id}> fit: too formal for friends"
    )
    await world.standin.edit_message(world.channel_id, unprefixed["id"], "never mind")
    await read_back_at_start(run_bot, caplog)
    assert rows(world, "SELECT text FROM comments ORDER BY comment_id") == [
        ("too formal for friends",),
        ("good nuance",),
    ]
    assert int(kept["id"]) in {m for (m,) in rows(world, "SELECT message_id FROM comments")}
    assert "1 comment(s) deleted with their message, 2 changed by an edit" in caplog.text


async def test_a_deleted_thread_takes_its_reply_comments_with_it(world, run_bot, moderator):
    await give_consent(db(world), world.guild_id, world.asker_id, "comments")
    world.model.script("Start with Pak.")
    async with run_bot(cooldown=0):
        await run(world, moderator, "answers settings", {"threads": True})
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I address my boss?"))
        await eventually(lambda: rows(world, "SELECT outcome FROM answers") == [("ok",)], what="the answer")
        [(thread_id,)] = rows(world, "SELECT channel_id FROM answers")
        reply = await world.standin.send_message(thread_id, world.asker_id, f"<@{world.standin.bot_user_id}> fit: ok")
        await world.standin.wait_for(lambda: world.standin.message(reply["id"]).reactions.get("📝"), what="saved")
        assert rows(world, "SELECT count(*) FROM comments") == [(1,)]
        world.standin.delete_thread(thread_id)
        await eventually(lambda: rows(world, "SELECT count(*) FROM comments") == [(0,)], what="the comment deleted")


async def test_a_deleted_channel_takes_its_reply_comments_with_it(world, run_bot):
    await give_consent(db(world), world.guild_id, world.asker_id, "comments")
    async with run_bot():
        answer = await ask(world)
        await comment(world, answer, world.asker_id, "too formal")
        assert rows(world, "SELECT count(*) FROM comments") == [(1,)]
        world.standin.delete_channel(world.channel_id)
        await eventually(lambda: rows(world, "SELECT count(*) FROM comments") == [(0,)], what="the comment deleted")


async def test_questions_deleted_in_bulk_have_their_threads_renamed(world, run_bot, moderator):
    world.model.script("Start with Pak.")
    async with run_bot(cooldown=0):
        await run(world, moderator, "answers settings", {"threads": True})
        asked = await world.standin.send_message(
            world.channel_id, world.asker_id, world.mention("How do I tell my boss about my divorce?")
        )
        await eventually(lambda: rows(world, "SELECT outcome FROM answers") == [("ok",)], what="the answer")
        [(thread_id,)] = rows(world, "SELECT channel_id FROM answers")
        await world.standin.dispatch(
            "MESSAGE_DELETE_BULK",
            {"ids": [asked["id"], "1"], "channel_id": str(world.channel_id), "guild_id": str(world.guild_id)},
        )
        await eventually(
            lambda: world.standin.state.channel(thread_id).name == "Answer (question removed)", what="the rename"
        )


async def test_an_edit_made_while_the_read_back_reads_its_message_is_not_overwritten(world, run_bot, caplog):
    """The read-back read the message, the member edited it meanwhile (applied live), and the read-back then wrote
    the older text it had read over the edit."""
    await give_consent(db(world), world.guild_id, world.member_id, "comments")
    async with run_bot():
        answer = await ask(world)
        reply = await comment(world, answer, world.member_id, "too formal")
    caplog.set_level("INFO")
    slow = world.standin.answer_late("GET", rf"/channels/{world.channel_id}/messages/{reply['id']}$", 1.0)
    async with run_bot():
        await eventually(lambda: slow.hits == 1, what="the read-back reading the reply")
        await world.standin.edit_message(
            world.channel_id, reply["id"], f"<@{world.standin.bot_user_id}> fit: too formal for friends"
        )
        await eventually(lambda: "reply comments read back" in caplog.text, what="the read-back")
        await eventually(
            lambda: rows(world, "SELECT text FROM comments") == [("too formal for friends",)], what="the edit"
        )
        await asyncio.sleep(0.3)
        assert rows(world, "SELECT text FROM comments") == [("too formal for friends",)]
