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
