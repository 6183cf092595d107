"""/answers channel-add and channel-remove say what they did; removing the last answer channel, which makes the bot
answer in every channel it can read, says so prominently, with how to limit it again or stop answers."""

from __future__ import annotations

import json
import sqlite3

from tests.e2e.test_scope_commands import reply_text, run


def stored_channels(world):
    with sqlite3.connect(world.tmp_path / "bot.sqlite3") as conn:
        [(stored,)] = conn.execute("SELECT answer_channels FROM guild_settings").fetchall()
    return json.loads(stored)


async def test_removing_the_last_answer_channel_warns_that_the_bot_answers_everywhere(world, run_bot, moderator):
    ask = int(world.standin.add_channel(world.guild_id, "ask")["id"])
    digest = int(world.standin.add_channel(world.guild_id, "digest")["id"])
    async with run_bot():
        first = await reply_text(world, await run(world, moderator, "answers channel-add", {"channel": ask}))
        assert first.startswith(f"Added #ask. I answer only there now.\nAnswers in: <#{ask}>\n")
        second = await reply_text(world, await run(world, moderator, "answers channel-add", {"channel": digest}))
        assert second.startswith(f"Added #digest.\nAnswers in: <#{ask}>, <#{digest}>\n")

        removed = await reply_text(world, await run(world, moderator, "answers channel-remove", {"channel": digest}))
        assert removed.startswith(f"Removed #digest.\nAnswers in: <#{ask}>\n")
        assert "every channel" not in removed

        last = await reply_text(world, await run(world, moderator, "answers channel-remove", {"channel": ask}))
        assert last.startswith(
            "Removed #ask. **That was the last answer channel: I now answer in every channel I can read.** "
            "To limit me again, add a channel with `/answers channel-add`; to stop answering altogether, set "
            "`/answers settings daily_token_budget:0`.\nAnswers in: every channel I can read\n"
        )
        assert stored_channels(world) == [], "the change is made, not refused"

        # In the channel it was not listed in before, the bot now answers.
        world.model.script("Greet them with Pak or Bu.")
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I greet them?"))
        await world.standin.wait_for_message(world.channel_id, lambda m: m.content.startswith("Greet them"))


async def test_removing_the_last_channel_while_answers_are_off_says_when_it_applies(world, run_bot, moderator):
    ask = int(world.standin.add_channel(world.guild_id, "ask")["id"])
    async with run_bot():
        await run(world, moderator, "answers settings", {"daily_token_budget": 0})
        await run(world, moderator, "answers channel-add", {"channel": ask})
        last = await reply_text(world, await run(world, moderator, "answers channel-remove", {"channel": ask}))
        assert last.startswith(
            "Removed #ask. That was the last answer channel: **once answers are switched on again "
            "(`/answers settings daily_token_budget`), I will answer in every channel I can read.** To limit me, "
            "add a channel with `/answers channel-add`.\n"
        )


async def test_adding_a_channel_already_listed_says_so(world, run_bot, moderator):
    ask = int(world.standin.add_channel(world.guild_id, "ask")["id"])
    async with run_bot():
        await run(world, moderator, "answers channel-add", {"channel": ask})
        again = await reply_text(world, await run(world, moderator, "answers channel-add", {"channel": ask}))
        assert again.startswith(f"Nothing changed: #ask is in the list already.\nAnswers in: <#{ask}>\n")
        assert stored_channels(world) == [ask]
