"""Discord faults while answering: rate limits, server errors and gateway reconnects lose nothing."""

from __future__ import annotations

import sqlite3

from bot.sandbox.fake_openai import Reply
from tests.helpers import eventually


def outcomes(world):
    with sqlite3.connect(world.tmp_path / "bot.sqlite3") as conn:
        return [row[0] for row in conn.execute("SELECT outcome FROM answers ORDER BY answer_id")]


async def test_rate_limited_edits_and_reactions_are_waited_out(world, run_bot):
    text = " ".join(f"t{i}" for i in range(40))
    world.model.script(Reply(text, tokens_per_second=60))
    world.standin.fail_next("PATCH", r"/channels/\d+/messages/\d+$", status=429, retry_after=0.3, count=2)
    world.standin.fail_next("PUT", r"/reactions/.+/@me$", status=429, retry_after=0.2)
    async with run_bot():
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Rate limits?"))
        await eventually(lambda: outcomes(world) == ["ok"], 15, "the answer to finish")
        [message] = world.standin.bot_messages(world.channel_id)
        assert world.standin.message(message.id).content == text
        await world.standin.wait_for(lambda: len(world.standin.message(message.id).reactions) == 3)
        faulted = [r for r in world.standin.requests if r.fault]
        assert len(faulted) == 3


async def test_server_error_on_first_send_is_retried(world, run_bot):
    world.model.script("Short answer.")
    world.standin.fail_next("POST", r"/channels/\d+/messages$", status=502)
    async with run_bot():
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("5xx?"))
        await eventually(lambda: outcomes(world) == ["ok"], 15, "the answer to finish")
        [message] = world.standin.bot_messages(world.channel_id)
        assert message.content == "Short answer."


async def test_a_server_error_after_the_message_was_made_does_not_post_the_answer_twice(world, run_bot):
    """Discord made the message and then answered 500: discord.py sends the same post again by itself, with the
    nonce it gave it and `enforce_nonce`, so Discord returns the message it made rather than post it twice (the
    stand-in did not model this, and showed the answer twice)."""
    world.model.script("Short answer.")
    failed = world.standin.fail_after("POST", r"/channels/\d+/messages$", status=500)
    async with run_bot():
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("5xx after the post?"))
        await eventually(lambda: outcomes(world) == ["ok"], 15, "the answer to finish")
        assert failed.hits == 1
        [message] = world.standin.bot_messages(world.channel_id)
        assert message.content == "Short answer."


async def test_gateway_reconnect_resumes_and_keeps_serving(world, run_bot):
    async with run_bot():
        await world.standin.close_gateway(code=4000)
        # A question sent while the bot is reconnecting is replayed on resume and answered.
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Still there?"))
        await world.standin.wait_for_resume(timeout=15)
        await eventually(lambda: outcomes(world) == ["ok"], 15, "the replayed question's answer")
        assert world.standin.identify_count == 1


async def test_an_answer_cut_off_by_a_refused_edit_says_it_is_incomplete(world, run_bot):
    text = " ".join(f"t{i}" for i in range(60))
    world.model.script(Reply(text, tokens_per_second=40))
    async with run_bot():
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Long one?"))
        [first] = await world.standin.wait_for(lambda: world.standin.bot_messages(world.channel_id) or None)
        # Discord refuses one edit while the answer streams (403 is not retried by discord.py).
        world.standin.fail_next("PATCH", r"/channels/\d+/messages/\d+$", status=403, count=1)
        await eventually(lambda: outcomes(world) == ["incomplete"], 15, "the answer to end")
        shown = world.standin.message(first.id)
        assert shown.content.endswith("*(answer incomplete: Discord refused a message while it was being written)*")
        assert "▌" not in shown.content and shown.components, "closed, with its rating controls"


def answer_rows(world):
    with sqlite3.connect(world.tmp_path / "bot.sqlite3") as conn:
        return conn.execute("SELECT outcome, error FROM answers ORDER BY answer_id").fetchall()


async def test_an_answer_discord_let_no_message_of_be_posted_is_recorded_as_failed(world, run_bot):
    """Discord refuses every message of the answer (403 is not retried): no member saw it, so research must not
    count it among the answers shown (finished or cut off)."""
    world.model.script("An answer nobody sees.")
    world.standin.fail_next("POST", r"/channels/\d+/messages$", status=403, count=10)
    async with run_bot():
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Anyone there?"))
        await eventually(lambda: outcomes(world) == ["failed"], 15, "the answer to end")
        [(_, error)] = answer_rows(world)
        assert error.startswith("no message of the answer could be posted: 403")
        assert world.standin.bot_messages(world.channel_id) == []


async def test_a_question_where_the_bot_may_not_post_is_not_sent_to_the_model(world, run_bot, caplog):
    send_messages = 1 << 11
    world.standin.set_permission_overwrite(world.channel_id, world.standin.bot_user_id, deny=send_messages, type=1)
    async with run_bot() as bot:
        channel = bot.get_channel(world.channel_id)
        assert not channel.permissions_for(channel.guild.me).send_messages
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Can you hear me?"))
        await eventually(lambda: "not answering a question in" in caplog.text, what="the question passed over")
        # Once the permission is back, the next question is answered: the first one was passed over, not queued.
        world.model.script("Yes.")
        world.standin.set_permission_overwrite(world.channel_id, world.standin.bot_user_id, deny=0, type=1)
        await eventually(
            lambda: channel.permissions_for(channel.guild.me).send_messages, what="the bot to see it may post again"
        )
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("And now?"))
        await eventually(lambda: outcomes(world) == ["ok"], 15, "the answer")
        assert len(world.model.chat_requests) == 1
        assert "And now?" in str(world.model.chat_requests[0].messages[-1])


async def test_an_answer_whose_final_edit_failed_is_recorded_as_incomplete(world, run_bot):
    """The final edit carries the answer's last text: when Discord refuses it, members saw the answer without its
    end (and with the cursor), so it is not recorded as finished."""
    # Two pieces 0.1 s apart, within the 0.2 s between edits: the first is posted, the second only by the final edit.
    world.model.script(Reply("First end.", tokens_per_second=10))
    world.standin.fail_next("PATCH", r"/channels/\d+/messages/\d+$", status=403, count=1)
    async with run_bot():
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("All at once?"))
        await eventually(lambda: outcomes(world) not in ([], ["streaming"]), 15, "the answer to end")
        [(outcome, error)] = answer_rows(world)
        assert (outcome, error.split(":")[0]) == ("incomplete", "the final edit, with the answer's end, failed")
        [message] = world.standin.bot_messages(world.channel_id)
        assert world.standin.message(message.id).content != "First end."


async def test_an_answer_whose_edits_cannot_reach_discord_is_closed_not_left_streaming(world, run_bot):
    """Discord cannot be reached for the answer's edits (dropped connections, which discord.py does not retry):
    the record is closed as incomplete, saying why. The connection error escaped the stream's handling and the
    closing edit, and the answer stayed 'streaming' until a restart, left out of its period's digest."""
    from bot.sandbox.discord.faults import DROP

    text = " ".join(f"t{i}" for i in range(60))
    world.model.script(Reply(text, tokens_per_second=40))
    async with run_bot():
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Long one?"))
        await world.standin.wait_for(lambda: world.standin.bot_messages(world.channel_id) or None)
        world.standin.fail_next("PATCH", r"/channels/\d+/messages/\d+$", status=DROP, count=100)
        await eventually(lambda: outcomes(world) == ["incomplete"], 15, "the answer to be closed")
        [(_, error)] = answer_rows(world)
        assert error.startswith("Discord refused a message: Discord not reached (ServerDisconnectedError"), error
