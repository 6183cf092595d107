"""Questions that wait, refusals that must not open threads, setup failures and answers cut by the length limit."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot.answers.pipeline import BOT_FAILED_LINE, BUSY, RESTARTING, SCOPE_UNREADABLE_LINE, SETUP_ERROR
from bot.answers.stream_outcome import (
    FILTERED_NOTE,
    LENGTH_ERROR,
    LENGTH_NOTE,
    MODEL_FAILED_LINE,
    REASONING_CUT_ERROR,
    SHORTENED_ERROR,
    STOPPED_EARLY_NOTE,
)
from bot.answers.streaming import CURSOR, TRUNCATED_NOTE
from bot.sandbox.fake_openai import Reply
from bot.scopes.manage import NO_SCOPE_MESSAGE
from tests.e2e.conftest import SCOPE_FIXTURE, declare_scope
from tests.e2e.test_answers import (
    finished_answers,
    moderator,  # noqa: F401 - a fixture
    rows,
)
from tests.e2e.test_scope_commands import run
from tests.helpers import eventually, store_scope_version

THREAD_PATH = r"^/channels/\d+/messages/\d+/threads$"


def slow(words: int, per_second: float = 20) -> Reply:
    return Reply(" ".join(f"word{i}" for i in range(words)), tokens_per_second=per_second)


def answers_by_question(world) -> dict[str, tuple[str, str | None]]:
    return {
        question: (outcome, error)
        for question, outcome, error in rows(world, "SELECT question, outcome, error FROM answers")
    }


async def test_one_question_waits_for_a_running_answer_and_more_are_refused(world, run_bot):
    world.model.script(slow(40), *[f"answer {i}" for i in range(5)])
    async with run_bot(cooldown=600):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("First, slowly"))
        await world.standin.wait_for_message(world.channel_id, lambda m: m.content.endswith(CURSOR))
        for i in range(5):
            await world.standin.send_message(world.channel_id, world.asker_id, world.mention(f"Extra {i}"))
        await eventually(lambda: len(finished_answers(world)) == 6, 15, "every question settled")
        assert answers_by_question(world) == {
            "First, slowly": ("ok", None),
            "Extra 0": ("ok", None),  # waited for the first; the cooldown does not refuse it for having waited
            **{f"Extra {i}": ("refused", BUSY.reason) for i in range(1, 5)},
        }
        assert len(world.model.chat_requests) == 2
        texts = [m.content for m in world.standin.bot_messages(world.channel_id)]
        assert texts.count(BUSY.line) == 4
        assert "answer 0" in texts
        # The question that waited started the cooldown again: the next one is refused by it.
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("And now?"))
        refusal = await world.standin.wait_for_message(world.channel_id, lambda m: "Please wait" in m.content)
        assert "before your next question" in refusal.content
        assert answers_by_question(world)["And now?"] == ("refused", "cooldown")
        assert len(world.model.chat_requests) == 2


async def test_a_queued_follow_up_in_the_thread_continues_from_the_one_before(world, run_bot, moderator):  # noqa: F811
    world.model.script("Start with Pak.", slow(30, 40), "At dinner, let him order first.")
    async with run_bot(cooldown=0):
        await run(world, moderator, "answers settings", {"threads": True})
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I address my boss?"))
        await eventually(lambda: len(finished_answers(world)) == 1, what="the first answer")
        [(thread_id,)] = rows(world, "SELECT channel_id FROM answers")
        await world.standin.send_message(thread_id, world.asker_id, world.mention("And at lunch?"))
        await world.standin.wait_for_message(thread_id, lambda m: m.content.endswith(CURSOR))
        await world.standin.send_message(thread_id, world.asker_id, world.mention("And at dinner?"))
        await eventually(lambda: len(finished_answers(world)) == 3, 15, "the two follow-ups")
        assert rows(world, "SELECT question, parent_answer_id FROM answers ORDER BY answer_id") == [
            ("How do I address my boss?", None),
            ("And at lunch?", 1),
            ("And at dinner?", 2),
        ]
        third = world.model.chat_requests[2].messages
        assert [m["role"] for m in third] == ["system", "user", "assistant", "user", "assistant", "user"]
        assert "And at lunch?" in third[3]["content"]
        assert third[4]["content"].startswith("word0 word1")
        assert "And at dinner?" in third[5]["content"]


def make_current(world, content: str) -> None:
    """Store a scope version that today's parser cannot read and make it current (as an old database might)."""
    store_scope_version(world.tmp_path / "bot.sqlite3", world.guild_id, 2, content, summary="old rules")


def too_short_summary() -> str:
    text = SCOPE_FIXTURE.read_text()
    summary = text.split("summary = ")[1].split("\n")[0]
    return text.replace(summary, '"Too short."')


def nested_too_deep() -> str:
    text = SCOPE_FIXTURE.read_text()
    return text.replace("+++\n\n", "version_note = " + "[" * 2000 + "]" * 2000 + "\n+++\n\n", 1)


@pytest.mark.parametrize("content", [too_short_summary, nested_too_deep], ids=["invalid", "unparsable"])
async def test_an_unreadable_scope_is_explained_not_silent(world, run_bot, content):
    settings = world.settings()
    await declare_scope(settings, world.guild_id, SCOPE_FIXTURE)
    make_current(world, content())
    async with run_bot(cooldown=0):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I greet?"))
        line = await world.standin.wait_for_message(world.channel_id)
        assert line.content == SCOPE_UNREADABLE_LINE
        asked = await run(world, world.asker_id, "ask", {"question": "How do I greet?"})
        followup = await world.standin.wait_for_followup(asked.id)
        assert followup.content == SCOPE_UNREADABLE_LINE
    assert world.model.chat_requests == []
    failed = ("failed", "the current scope (version 2) does not parse")
    assert rows(world, "SELECT outcome, error FROM answers") == [failed, failed]


async def test_a_stored_scope_that_a_newer_rule_refuses_still_answers(world, run_bot, moderator):  # noqa: F811
    # A level-1 line inside a section was accepted before the rule that now refuses it in uploads and edits.
    text = SCOPE_FIXTURE.read_text().replace("## Norms and etiquette\n", "## Norms and etiquette\n\n# Meetings\n", 1)
    await declare_scope(world.settings(), world.guild_id, SCOPE_FIXTURE)
    make_current(world, text)
    world.model.script("Greet the most senior person first.")
    async with run_bot(cooldown=0):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I greet?"))
        await eventually(lambda: finished_answers(world) == [(1, "ok")], what="the answer")
        assert "# Meetings" in world.model.chat_requests[0].messages[0]["content"]
        # Changing the scope holds the whole file to today's rules: said before a form is filled in, with the
        # stored file's own line numbers (a saved form re-renders the file, and gave the rendered file's).
        refused = await run(world, moderator, "scope edit", {"section": "Glossary"})
        assert refused.modal is None
        content = refused.response_data["content"]
        line = text.splitlines().index("# Meetings") + 1
        assert content.startswith("Version 2 no longer passes validation, so it cannot be edited in a form:")
        assert f"version 2:{line}: '# Meetings' is a level-1 heading" in content
        assert "`/scope download version:2`" in content
        # The section that holds it can be fixed in its form: the form opens, and the fixed text is saved.
        form = await run(world, moderator, "scope edit", {"section": "Norms and etiquette"})
        assert form.modal is not None
        [text_input] = [c for row in form.modal["components"] for c in row["components"]]
        fixed = text_input["value"].replace("# Meetings", "### Meetings")
        saved = await world.standin.submit_modal(form, moderator, values={text_input["custom_id"]: fixed})
        reply = (await world.standin.wait_for_interaction_response(saved)).response_data["content"]
        assert reply.startswith("Saved as version 3"), reply


async def test_a_failure_before_the_model_call_is_told_to_the_member(world, run_bot, monkeypatch):
    world.model.script("Answered once the failure is gone.")
    async with run_bot(cooldown=0) as bot:

        async def broken(guild_id: int) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        with monkeypatch.context() as patch:
            patch.setattr(bot.storage, "running_comparison", broken)
            await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Anyone there?"))
            line = await world.standin.wait_for_message(world.channel_id)
            # The bot's own failure, not the model's: the member is not told the model failed.
            assert line.content == BOT_FAILED_LINE
            asked = await run(world, world.member_id, "ask", {"question": "And here?"})
            assert (await world.standin.wait_for_followup(asked.id)).content == BOT_FAILED_LINE
        # Both are recorded, as research counts every question; the bot goes on serving.
        assert answers_by_question(world) == {
            "Anyone there?": ("failed", SETUP_ERROR),
            "And here?": ("failed", SETUP_ERROR),
        }
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("And now?"))
        await eventually(lambda: finished_answers(world)[-1] == (3, "ok"), what="the next answer")


async def test_an_answer_cut_by_the_length_limit_says_so_and_is_recorded_incomplete(world, run_bot):
    cut = " ".join(["Bring a small gift and greet the eldest first."] * 42)  # about 2,000 characters
    world.model.script(Reply(cut, finish_reason="length"), "A whole answer.")
    async with run_bot(cooldown=0):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Long question?"))
        await eventually(lambda: len(finished_answers(world)) == 1, what="the cut answer")
        messages = world.standin.bot_messages(world.channel_id)
        assert messages[-1].content.endswith(LENGTH_NOTE.strip())
        assert all(len(m.content) <= 2000 for m in messages)
        assert not any(m.content.endswith(CURSOR) for m in messages)
        assert rows(world, "SELECT outcome, error, answer FROM answers") == [
            ("incomplete", LENGTH_ERROR.format(reason="length"), cut)
        ]
        # A model that stopped by itself is complete.
        await world.standin.send_message(world.channel_id, world.member_id, world.mention("Short question?"))
        await eventually(lambda: len(finished_answers(world)) == 2, what="the whole answer")
        assert rows(world, "SELECT outcome, error FROM answers WHERE answer_id = 2") == [("ok", None)]
        assert world.standin.bot_messages(world.channel_id)[-1].content == "A whole answer."


async def test_an_answer_stopped_by_a_filter_an_error_or_a_provider_limit_is_recorded_incomplete(world, run_bot):
    world.model.script(
        Reply("Bring a small gift and", finish_reason="content_filter"),
        Reply("Greet the eldest", finish_reason="error"),
        Reply("", finish_reason="content_filter"),
        Reply("A whole answer from a server that names its end its own way.", finish_reason="eos_token"),
        # Other providers' names for a full context and for a server out of capacity.
        Reply("Greet the eldest and then", finish_reason="model_length"),
        Reply("Bring a gift for", finish_reason="insufficient_system_resource"),
    )
    async with run_bot(cooldown=0):
        notes = (FILTERED_NOTE, STOPPED_EARLY_NOTE, None, None, LENGTH_NOTE, STOPPED_EARLY_NOTE)
        for index, note in enumerate(notes, start=1):
            await world.standin.send_message(world.channel_id, world.asker_id, world.mention(f"Question {index}?"))
            await eventually(lambda: len(finished_answers(world)) == index, what=f"answer {index}")  # noqa: B023
            if note is not None:
                assert world.standin.bot_messages(world.channel_id)[-1].content.endswith(note.strip())
    assert rows(world, "SELECT outcome, error FROM answers ORDER BY answer_id") == [
        ("incomplete", "the model stopped early (finish_reason 'content_filter'): the answer may be cut off"),
        ("incomplete", "the model stopped early (finish_reason 'error'): the answer may be cut off"),
        ("failed", "the model returned no text (finish_reason 'content_filter')"),
        ("ok", None),
        ("incomplete", "cut off: the model's length limit was reached (finish_reason 'model_length')"),
        (
            "incomplete",
            "the model stopped early (finish_reason 'insufficient_system_resource'): the answer may be cut off",
        ),
    ]


async def test_refusals_open_no_thread(world, run_bot, moderator):  # noqa: F811
    other = world.standin.add_channel(world.guild_id, "ask-here")
    async with run_bot(cooldown=600):
        await run(world, moderator, "answers settings", {"threads": True})
        # A channel the bot does not answer in.
        await run(world, moderator, "answers channel-add", {"channel": other["id"]})
        question = await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Here?"))
        line = await world.standin.wait_for_message(world.channel_id, lambda m: "I answer questions in" in m.content)
        assert line.message_reference and int(line.message_reference["message_id"]) == int(question["id"])
        assert world.standin.find_requests("POST", THREAD_PATH) == []
        assert world.standin.message(question["id"]).thread_id is None
        # The cooldown: the first question gets its thread, the second only a line in the channel.
        await world.standin.send_message(other["id"], world.asker_id, world.mention("First?"))
        await eventually(lambda: [o for _, o in finished_answers(world)] == ["refused", "ok"], what="the answer")
        assert len(world.standin.find_requests("POST", THREAD_PATH)) == 1
        await world.standin.send_message(other["id"], world.asker_id, world.mention("Second?"))
        await world.standin.wait_for_message(other["id"], lambda m: "Please wait" in m.content)
        assert len(world.standin.find_requests("POST", THREAD_PATH)) == 1
        assert rows(world, "SELECT channel_id, error FROM answers WHERE outcome = 'refused' ORDER BY answer_id") == [
            (world.channel_id, "channel not enabled"),
            (int(other["id"]), "cooldown"),
        ]


async def test_no_scope_refusal_opens_no_thread(world, run_bot, moderator):  # noqa: F811
    async with run_bot(scope=None, cooldown=0):
        await run(world, moderator, "answers settings", {"threads": True})
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Anything?"))
        line = await world.standin.wait_for_message(world.channel_id)
        assert line.content == NO_SCOPE_MESSAGE
        assert world.standin.find_requests("POST", THREAD_PATH) == []
    assert world.model.chat_requests == []
    assert rows(world, "SELECT outcome, error FROM answers") == [("refused", "no scope declared")], "counted too"


async def test_an_answer_cut_by_the_servers_length_limit_stops_the_model_and_is_recorded_incomplete(world, run_bot):
    world.model.script(slow(2000, per_second=400))  # five seconds of text, far beyond the limit
    async with run_bot(cooldown=0, max_answer_chars=200):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Tell me everything?"))
        await eventually(lambda: len(finished_answers(world)) == 1, what="the shortened answer")
        [message] = world.standin.bot_messages(world.channel_id)
        assert message.content.endswith(TRUNCATED_NOTE.strip())
        [(outcome, error, answer)] = rows(world, "SELECT outcome, error, answer FROM answers")
        assert (outcome, error) == ("incomplete", SHORTENED_ERROR)
        assert len(answer) <= 200
        # The model's stream was closed at the cut, not read to its end.
        [request] = world.model.chat_requests
        await eventually(lambda: request.client_left, what="the bot to close the model's stream")
        assert request.finished_at is None or request.finished_at - request.received_at < 4


async def test_a_shutdown_while_the_answers_record_is_written_still_closes_it(world, run_bot, monkeypatch):
    world.model.script(slow(400, per_second=40))
    async with run_bot(cooldown=0, shutdown_grace_seconds=0) as bot:
        start_answer = bot.storage.start_answer

        async def slow_start(new):
            answer_id = await start_answer(new)
            await asyncio.sleep(1.5)  # the row is written, its id comes back late (a busy database)
            return answer_id

        monkeypatch.setattr(bot.storage, "start_answer", slow_start)
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Tell me slowly?"))
        first = await world.standin.wait_for_message(world.channel_id)
        # The bot shuts down here, while the first message waits for the record's id.
    [(outcome, error)] = rows(world, "SELECT outcome, error FROM answers")
    assert (outcome, error) == ("incomplete", "interrupted by shutdown")
    message = world.standin.message(first.id)
    assert not message.content.endswith(CURSOR) and "interrupted" in message.content
    assert rows(world, "SELECT message_id FROM answer_messages") == [(first.id,)], "ratings on it still resolve"


async def test_a_question_waiting_at_shutdown_is_told_and_recorded(world, run_bot):
    world.model.script(slow(400, per_second=40), "never asked")
    async with run_bot(cooldown=0, shutdown_grace_seconds=0) as bot:
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("First, slowly"))
        await world.standin.wait_for_message(world.channel_id, lambda m: m.content.endswith(CURSOR))
        waiting = await world.standin.send_message(world.channel_id, world.asker_id, world.mention("And then?"))
        await eventually(lambda: bot.answerer.in_flight == 2, what="the second question to wait for the first")
        # The bot shuts down here: the first answer is interrupted, the waiting question never started.
    assert answers_by_question(world) == {
        "First, slowly": ("incomplete", "interrupted by shutdown"),
        "And then?": ("refused", RESTARTING.reason),
    }
    [told] = [m for m in world.standin.bot_messages(world.channel_id) if m.content == RESTARTING.line]
    assert told.message_reference is not None and int(told.message_reference["message_id"]) == int(waiting["id"])
    assert len(world.model.chat_requests) == 1


async def test_reasoning_cut_off_by_the_length_limit_is_not_shown_as_the_answer(world, run_bot):
    world.model.script(Reply("The member asks about greetings; the eldest first, so", finish_reason="length"))
    async with run_bot(cooldown=0, model_name="deepseek-r1-distill"):  # its template opens <think> in the prompt
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I greet?"))
        await eventually(lambda: len(finished_answers(world)) == 1, what="the failed answer")
        assert [m.content for m in world.standin.bot_messages(world.channel_id)] == [MODEL_FAILED_LINE]
        assert rows(world, "SELECT outcome, error, answer FROM answers") == [("failed", REASONING_CUT_ERROR, "")]


async def test_asking_during_each_answer_does_not_chain_past_the_cooldown(world, run_bot):
    world.model.script(slow(60, per_second=40), slow(60, per_second=40), "never asked")
    async with run_bot(cooldown=600):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("One?"))
        await world.standin.wait_for_message(world.channel_id, lambda m: m.content.endswith(CURSOR))
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Two?"))  # waits: exempt
        await eventually(lambda: len(world.model.chat_requests) == 2, what="the waiting question's turn")
        # Asked while the exempt answer streams: the cooldown applies again.
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Three?"))
        await eventually(lambda: len(finished_answers(world)) == 3, 15, "every question settled")
        assert answers_by_question(world) == {
            "One?": ("ok", None),
            "Two?": ("ok", None),
            "Three?": ("refused", "cooldown"),
        }
        assert len(world.model.chat_requests) == 2
