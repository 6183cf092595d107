"""A shutdown that cancels an answer while Discord is making its next message: that message is closed too."""

from __future__ import annotations

import asyncio
import signal

from bot.answers.pipeline import INTERRUPTED_NOTE
from bot.answers.streaming import CURSOR
from bot.sandbox.fake_openai import Reply
from tests.e2e.test_shutdown import answers, linked_messages, start_bot_process


async def test_a_message_discord_was_making_at_shutdown_is_closed_and_linked(world):
    # Long enough for two messages; the second part is being written when the shutdown comes.
    text = " ".join(f"word{i:03d}" for i in range(600))
    world.model.script(Reply(text, tokens_per_second=150))
    process = await start_bot_process(world, CULTUREBOT_SHUTDOWN_GRACE_SECONDS="0.3")
    await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Tell me at length"))
    await world.standin.wait_for_message(world.channel_id, timeout=15)
    # Discord makes the next message at once but is slow to say so: the shutdown comes in between.
    world.standin.answer_late("POST", rf"^/channels/{world.channel_id}/messages$", seconds=2.0)
    await world.standin.wait_for(lambda: len(world.standin.bot_messages(world.channel_id)) >= 2, 15, "a second part")
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, output.decode()
    assert b"Traceback" not in output

    shown = [message.content for message in world.standin.bot_messages(world.channel_id)]
    assert len(shown) == 2, shown  # no third message repeating the part
    assert not any(content.endswith(CURSOR) for content in shown), "no message is left looking unfinished"
    assert shown[-1].endswith(INTERRUPTED_NOTE)
    [(outcome, _, error)] = answers(world)
    assert (outcome, error) == ("incomplete", "interrupted by shutdown")
    assert linked_messages(world) == 2
