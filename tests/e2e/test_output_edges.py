"""Edges of what reaches the channel, through the stand-in: whitespace overflow keeps the controls, and
reasoning whose opening tag was in the prompt never stays in the channel."""

from __future__ import annotations

from bot.sandbox.fake_openai import Reply
from tests.e2e.conftest import set_guild_settings
from tests.e2e.test_answers import finished_answers, rows
from tests.helpers import eventually

REASONING = "The member asks about greetings. I should think about Pak and Bu, " * 40 + "\n"


async def test_whitespace_overflow_keeps_the_rating_buttons(world, run_bot):
    answer = "word " * 398
    world.model.script(answer + "\n" * 10)
    await set_guild_settings(world.settings(), world.guild_id, {"rating_controls": "buttons"})
    async with run_bot(cooldown=0):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("A long one?"))
        await eventually(lambda: len(finished_answers(world)) == 1, what="the answer")
        [message] = world.standin.bot_messages(world.channel_id)
        assert message.content.strip() == answer.strip()
        assert message.components, "the answer's last message carries the rating buttons"


async def test_an_answer_of_exactly_discords_limit_is_one_message(world, run_bot):
    answer = ("Say Bapak to your manager. " * 80)[:1999] + "."  # 2,000 characters, streamed token by token
    world.model.script(answer)
    await set_guild_settings(world.settings(), world.guild_id, {"rating_controls": "buttons"})
    async with run_bot(cooldown=0):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How to address him?"))
        await eventually(lambda: len(finished_answers(world)) == 1, what="the answer")
        [message] = world.standin.bot_messages(world.channel_id)
        assert message.content == answer, "not cut into 1,989 + 10 characters to keep room for the typing cursor"
        assert message.components, "with its rating buttons"


async def test_reasoning_with_only_a_closing_tag_is_taken_back_then_held_back(world, run_bot):
    world.model.script(
        Reply(REASONING + "</think>\n\nUse Pak or Bu.", tokens_per_second=2000),
        Reply(REASONING + "</think>\nBapak in emails.", tokens_per_second=2000),
    )
    async with run_bot(cooldown=0):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I greet?"))
        await eventually(lambda: len(finished_answers(world)) == 1, what="the first answer")
        [first] = world.standin.bot_messages(world.channel_id)
        assert first.content == "Use Pak or Bu."
        assert first.components or first.reactions  # the controls are there

        # The client has learnt the model reasons first: the next answer never shows the reasoning at all.
        await world.standin.send_message(world.channel_id, world.member_id, world.mention("And in emails?"))
        await eventually(lambda: len(finished_answers(world)) == 2, what="the second answer")
        [_, second] = world.standin.bot_messages(world.channel_id)
        assert second.content == "Bapak in emails."
        assert all("Pak and Bu" not in edit.content for edit in second.edits)
        assert [answer for (answer,) in rows(world, "SELECT answer FROM answers ORDER BY answer_id")] == [
            "Use Pak or Bu.",
            "Bapak in emails.",
        ]


async def test_a_preview_that_only_reasoned_leaves_no_reasoning_on_screen(world, run_bot, moderator):
    """Reasoning shown before its closing tag came, and no answer after it: the preview takes the reasoning back
    and says no answer came, as a member's answer does."""
    from bot.answers.stream_outcome import MODEL_FAILED_LINE
    from tests.e2e.test_scope_commands import run

    world.model.script(Reply(REASONING + "</think>", tokens_per_second=2000))
    async with run_bot():
        record = await run(world, moderator, "scope preview", {"question": "How do I greet my boss?"})
        await world.standin.wait_for_followup(record.id)  # the header
        line = await world.standin.wait_for(
            lambda: next(
                (m for m in world.standin.interactions.record(record.id).followups if m.content == MODEL_FAILED_LINE),
                None,
            ),
            timeout=10,
        )
        assert line.ephemeral
        shown = [world.standin.message(m.id) for m in world.standin.interactions.record(record.id).followups]
        assert not [m for m in shown if "Pak and Bu" in m.content and not m.deleted], "no reasoning left on screen"
