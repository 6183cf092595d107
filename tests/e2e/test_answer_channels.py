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


async def test_a_question_forum_can_be_an_answer_channel(world, run_bot, moderator):
    """Members ask in a forum's posts (threads): the forum can be listed, and the bot answers inside the posts, also
    with a thread per question switched on (a post is a thread already)."""
    forum = int(world.standin.add_channel(world.guild_id, "questions", type=15)["id"])
    async with run_bot(cooldown=0):
        added = await reply_text(world, await run(world, moderator, "answers channel-add", {"channel": forum}))
        assert added.startswith(f"Added #questions. I answer only there now.\nAnswers in: <#{forum}>\n"), added
        threads = await reply_text(world, await run(world, moderator, "answers settings", {"threads": True}))
        assert "I can't answer in threads" not in threads, threads
        setup = await world.standin.wait_for_followup((await run(world, moderator, "setup")).id)
        assert "I lack" not in setup.embeds[0]["description"]

        world.model.script("Bring a small gift with both hands.")
        post = await world.standin.create_thread(forum, "Visiting my in-laws", world.asker_id)
        await world.standin.send_message(post["id"], world.asker_id, world.mention("What should I bring?"))
        answer = await world.standin.wait_for_message(post["id"], lambda m: m.content.startswith("Bring a small gift"))
        assert answer.channel_id == int(post["id"])


async def test_removing_by_a_name_two_listed_channels_share_says_to_pick_one(world, run_bot, moderator):
    first = int(world.standin.add_channel(world.guild_id, "ask")["id"])
    second = int(world.standin.add_channel(world.guild_id, "ask")["id"])
    async with run_bot():
        for channel in (first, second):
            await reply_text(world, await run(world, moderator, "answers channel-add", {"channel": channel}))
        refused = await reply_text(world, await run(world, moderator, "answers channel-remove", {"channel": "ask"}))
        assert refused.startswith("2 listed channels are called `ask`. Pick the one you mean"), refused
        assert stored_channels(world) == [first, second]
        removed = await reply_text(
            world, await run(world, moderator, "answers channel-remove", {"channel": str(second)})
        )
        assert removed.startswith("Removed #ask."), removed
        assert stored_channels(world) == [first]


async def test_a_members_forum_post_is_never_renamed_as_a_thread_the_bot_opened(world, run_bot, moderator):
    """On Discord a forum post's first message has the post's id, as a thread the bot opens from a question has its
    question's: the post (the member's own title) must not be renamed when that message goes or is forgotten."""
    from bot.feedback.privacy import rename_queued_threads

    forum = int(world.standin.add_channel(world.guild_id, "questions", type=15)["id"])
    world.model.script("Bring a small gift.")
    async with run_bot(cooldown=0) as bot:
        await run(world, moderator, "answers channel-add", {"channel": forum})
        post = await world.standin.create_thread(forum, "Visiting my in-laws", world.asker_id)
        await world.standin.send_message(post["id"], world.asker_id, world.mention("What should I bring?"))
        await world.standin.wait_for_message(post["id"], lambda m: m.content.startswith("Bring a small gift"))
        with sqlite3.connect(world.tmp_path / "bot.sqlite3") as conn:  # queued as its first message's thread would be
            conn.execute(
                "INSERT INTO threads_to_rename (thread_id, guild_id) VALUES (?, ?)", (post["id"], world.guild_id)
            )
        await rename_queued_threads(bot, bot.storage)
        assert world.standin.state.channel(int(post["id"])).name == "Visiting my in-laws"
        assert await bot.storage.threads_to_rename(10) == []
