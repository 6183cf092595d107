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
