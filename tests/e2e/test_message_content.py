"""The opt-in Message Content intent: without it Discord sends no text of messages that do not mention the bot."""

from __future__ import annotations

import pytest

from tests.e2e.test_answers import finished_answers, rows
from tests.e2e.test_scope_commands import MANAGE_GUILD, run
from tests.helpers import eventually


@pytest.fixture
def moderator(world):
    role = world.standin.add_role(world.guild_id, "Moderators", permissions=MANAGE_GUILD)
    return int(world.standin.add_member(world.guild_id, "mod-sari", roles=[role["id"]])["user"]["id"])


async def continue_in_thread(world, run_bot, moderator, **settings) -> list[str]:
    """Threads on, a question, then a follow-up in the bot's thread without a mention: the texts the model got."""
    world.model.script("Start with Pak.", "At lunch, first names are fine if he offers.")
    async with run_bot(cooldown=0, **settings):
        await run(world, moderator, "answers settings", {"threads": True})
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I address my boss?"))
        await eventually(lambda: len(finished_answers(world)) == 1, what="the first answer")
        [(thread_id,)] = rows(world, "SELECT channel_id FROM answers")
        await world.standin.send_message(thread_id, world.asker_id, "And at lunch?")
        if not settings.get("message_content_intent"):
            # A mention after it: answered, and (events arrive in order) proof the plain one was passed over.
            await world.standin.send_message(thread_id, world.asker_id, world.mention("And at dinner?"))
        await eventually(lambda: len(finished_answers(world)) == 2, what="the follow-up's answer")
        return [request.messages[-1]["content"] for request in world.model.chat_requests]


async def test_with_the_intent_a_thread_continues_without_a_mention(world, run_bot, moderator):
    asked = await continue_in_thread(world, run_bot, moderator, message_content_intent=True)
    assert len(asked) == 2 and "And at lunch?" in asked[1]


async def test_without_it_discord_sends_no_text_so_a_mention_is_needed(world, run_bot, moderator):
    asked = await continue_in_thread(world, run_bot, moderator)
    # The plain follow-up arrived with no text: nothing to answer (the README says to mention the bot there).
    assert len(asked) == 2 and "And at dinner?" in asked[1]
    assert not any("And at lunch?" in text for text in asked)
