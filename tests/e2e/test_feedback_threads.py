"""Rating reactions on answers in threads: the consent note goes to the thread, cached by discord.py or not."""

from __future__ import annotations

import discord

from tests.e2e.test_feedback import add_moderator, button, click, finished, rows
from tests.e2e.test_scope_commands import run
from tests.helpers import eventually


async def test_a_reaction_in_a_thread_after_a_restart_gets_its_consent_note_in_the_thread(world, run_bot):
    moderator = add_moderator(world)
    world.model.script("Greet him with Pak.")
    async with run_bot(cooldown=0):
        await run(world, moderator, "answers settings", {"threads": True})
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I greet my boss?"))
        await eventually(finished(world, 1), what="the answer in its thread")
    [(thread,)] = rows(world, "SELECT channel_id FROM answers")
    [answer] = world.standin.bot_messages(thread)

    async with run_bot() as bot:
        # A new process knows only the threads Discord lists as it connects (the stand-in lists the active ones,
        # as Discord does); one it missed the news of, or dropped when it was archived, is not in its cache.
        guild = bot.get_guild(world.guild_id)
        assert guild is not None
        guild._remove_thread(discord.Object(thread))
        assert bot.get_channel(thread) is None
        await world.standin.add_reaction(thread, answer.id, world.member_id, "✅")  # no consent yet
        note = await world.standin.wait_for_message(thread, lambda m: "thanks for rating" in m.content)
        assert note.mentions == [world.member_id]
        notice = await click(world, note, world.member_id, button(note, "cb:ask:"))
        assert notice.ephemeral
    assert rows(world, "SELECT * FROM ratings") == []


async def test_a_fit_comment_in_the_bots_thread_is_a_comment_on_its_newest_answer_not_a_question(world, run_bot):
    """In thread mode the thread is one conversation: "fit: ..." there (no reply needed) is feedback on its newest
    answer. It was answered by the model as a question and recorded as one, also for members who declined."""
    from tests.helpers import give_consent

    moderator = add_moderator(world)
    world.model.script("Greet him with Pak.", "Then use his first name.")
    async with run_bot(cooldown=0):
        await run(world, moderator, "answers settings", {"threads": True})
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I greet my boss?"))
        await eventually(finished(world, 1), what="the answer in its thread")
        [(thread,)] = rows(world, "SELECT channel_id FROM answers")
        await world.standin.send_message(thread, world.asker_id, world.mention("And after a year?"))
        await eventually(finished(world, 2), what="the follow-up in the thread")
        await give_consent(world.tmp_path / "bot.sqlite3", world.guild_id, world.member_id, "comments")
        comment = await world.standin.send_message(thread, world.member_id, world.mention("fit: too formal for us"))
        await world.standin.wait_for(
            lambda: world.standin.message(comment["id"]).reactions.get("📝"), what="the saved-comment reaction"
        )
        # An edit of it changes the comment, as for a reply.
        await world.standin.edit_message(thread, comment["id"], world.mention("fit: far too formal for us"))
        await eventually(
            lambda: rows(world, "SELECT answer_id, text FROM comments") == [(2, "far too formal for us")],
            what="the edited comment",
        )
    assert len(world.model.chat_requests) == 2, "not answered as a question"
    assert rows(world, "SELECT count(*) FROM answers") == [(2,)], "not recorded as one"
