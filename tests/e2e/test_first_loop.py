"""The first loop: a member mentions the bot, the answer streams in, members rate it by reaction."""

from __future__ import annotations

import gc
import itertools
import sqlite3

import pytest

from bot.answers.streaming import CURSOR
from bot.collector import YOUNG_THRESHOLD
from bot.sandbox.fake_openai import CutStream, Reply, ServerError
from bot.storage import Outcome
from tests.helpers import cells_containing, eventually, give_consent


def answer_rows(world):
    with sqlite3.connect(world.tmp_path / "bot.sqlite3") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("SELECT * FROM answers ORDER BY answer_id")]


def rating_rows(world):
    with sqlite3.connect(world.tmp_path / "bot.sqlite3") as conn:
        return conn.execute("SELECT answer_id, value, is_asker, source FROM ratings ORDER BY rater_hash").fetchall()


async def wait_for_outcome(world, outcome="ok", timeout=10.0):
    def last_with_outcome():
        rows = answer_rows(world)
        return rows[-1] if rows and rows[-1]["outcome"] == outcome else None

    return await eventually(last_with_outcome, timeout, f"an answer with outcome {outcome}")


async def test_mention_streams_answer_then_reactions_are_stored(world, run_bot):
    text = "Greeting elders " + " ".join(f"step{i}" for i in range(60)) + " done."
    world.model.script(Reply(text, ttft=0.05, tokens_per_second=80))
    async with run_bot() as bot:
        question = await world.standin.send_message(
            world.channel_id, world.asker_id, world.mention("How should I greet my partner's grandparents?")
        )
        first = await world.standin.wait_for_message(world.channel_id)
        # The first message appears while the model is still writing, as a reply to the question.
        assert first.content.endswith(CURSOR)
        assert first.message_reference is not None
        assert int(first.message_reference["message_id"]) == int(question["id"])

        row = await wait_for_outcome(world)
        final = world.standin.message(first.id)
        assert final.content == text, "the final edit shows the whole answer without the cursor"
        assert len(final.edits) >= 2, "the message was edited as text arrived"
        # Edits are throttled: never closer than the interval (0.2 s here), with a little slack.
        times = [final.created] + [edit.at for edit in final.edits]
        assert all(later - earlier >= 0.15 for earlier, later in itertools.pairwise(times[1:-1]))

        # The model saw the question, delimited as member content.
        request = world.model.last_request
        assert "How should I greet my partner's grandparents?" in request.messages[-1]["content"]
        assert "<member_message>" in request.messages[-1]["content"]

        # The record of the answer.
        assert row["question"] == "How should I greet my partner's grandparents?"
        assert row["answer"] == text
        assert row["model"] == "fake-model"
        assert row["tokens_in"] > 0 and row["tokens_out"] > 0
        assert 0 <= row["ttft_ms"] <= row["total_ms"]

        # Rating controls: the bot reacts with the scale, then members rate.
        await world.standin.wait_for(
            lambda: len(world.standin.message(first.id).reactions) == 3, what="the three rating reactions"
        )
        # Members who agreed to take part rate by reaction.
        await give_consent(world.tmp_path / "bot.sqlite3", world.guild_id, world.member_id)
        await give_consent(world.tmp_path / "bot.sqlite3", world.guild_id, world.asker_id)
        await world.standin.add_reaction(world.channel_id, first.id, world.member_id, "🤔")
        await world.standin.add_reaction(world.channel_id, first.id, world.asker_id, "✅")
        await eventually(lambda: len(rating_rows(world)) == 2, what="two ratings")
        assert sorted((value, is_asker) for _, value, is_asker, _ in rating_rows(world)) == [(2, 0), (3, 1)]

        # Changing a reaction replaces the rating; taking the new one back leaves the older one as the rating,
        # and taking that back too deletes it.
        await world.standin.add_reaction(world.channel_id, first.id, world.member_id, "❌")
        await eventually(lambda: sorted(r[1] for r in rating_rows(world)) == [1, 3], what="the changed rating")
        await world.standin.remove_reaction(world.channel_id, first.id, world.member_id, "❌")
        await eventually(lambda: sorted(r[1] for r in rating_rows(world)) == [2, 3], what="the older rating again")
        await world.standin.remove_reaction(world.channel_id, first.id, world.member_id, "🤔")
        await eventually(lambda: [r[1] for r in rating_rows(world)] == [3], what="the removed rating")
        assert bot.is_ready()

    # Members are stored only as pseudonyms.
    db = world.tmp_path / "bot.sqlite3"
    assert cells_containing(db, world.asker_id) == []
    assert cells_containing(db, world.member_id) == []


async def test_model_output_pings_nobody(world, run_bot):
    world.model.script("Ask @everyone and @here, or <@&123> and <@456>, they know.")
    async with run_bot():
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Who knows?"))
        await wait_for_outcome(world)
        [answer] = world.standin.bot_messages(world.channel_id)
        message = world.standin.message(answer.id)
        assert not message.pings_anyone
        assert message.allowed_mentions is not None and message.allowed_mentions.get("parse") == []
        for edit in message.edits:
            assert "@everyone" not in edit.content and "@here" not in edit.content
        assert "<@&123>" in message.content  # shown, but nobody is notified


async def test_long_answer_continues_in_new_messages(world, run_bot):
    text = " ".join(f"word{i}" for i in range(1700))  # about 10,000 characters
    world.model.script(Reply(text, tokens_per_second=None))
    async with run_bot(max_answer_chars=20000):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Tell me everything"))
        row = await wait_for_outcome(world)
        parts = world.standin.bot_messages(world.channel_id)
        assert len(parts) >= 5
        assert all(len(part.content) <= 2000 for part in parts)
        assert " ".join(part.content for part in parts).split() == text.split()
        assert row["answer"] == text
        # Rating reactions sit on the last part, and rating any part counts.
        await world.standin.wait_for(lambda: len(world.standin.message(parts[-1].id).reactions) == 3, what="reactions")
        await give_consent(world.tmp_path / "bot.sqlite3", world.guild_id, world.member_id)
        await world.standin.add_reaction(world.channel_id, parts[0].id, world.member_id, "✅")
        await eventually(lambda: len(rating_rows(world)) == 1, what="a rating on the first part")


async def test_model_failure_after_retries_is_one_polite_line(world, run_bot):
    world.model.fail_next(ServerError(status=500), count=2)
    async with run_bot(model_max_retries=1):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Anyone there?"))
        row = await wait_for_outcome(world, Outcome.FAILED.value)
        [line] = world.standin.bot_messages(world.channel_id)
        assert line.content.startswith("Sorry, I couldn't get an answer")
        assert "Traceback" not in line.content and "500" not in line.content
        assert "HTTP 500" in row["error"]
        assert len(world.model.chat_requests) == 2  # one try, one retry
        # The bot keeps serving.
        world.model.script("Back again.")
        await world.standin.send_message(world.channel_id, world.member_id, world.mention("And now?"))
        await wait_for_outcome(world, "ok")


@pytest.mark.parametrize(
    ("status", "told"),
    [
        (400, "Sorry, the language model refused this question: it may be too long together with the conversation"),
        (401, "Sorry, I can't reach my language model: the bot's model settings need fixing. Please tell a moderator."),
    ],
)
async def test_a_request_the_model_endpoint_refuses_is_not_met_with_try_again_later(world, run_bot, status, told):
    world.model.fail_next(ServerError(status=status, message="This model's maximum context length is 8192 tokens"))
    async with run_bot():
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("A long one?"))
        row = await wait_for_outcome(world, Outcome.FAILED.value)
        [line] = world.standin.bot_messages(world.channel_id)
        assert line.content.startswith(told) and "try again in a few minutes" not in line.content
        assert f"HTTP {status}" in row["error"]
        assert len(world.model.chat_requests) == 1, "not retried: it would be refused again"


@pytest.mark.parametrize(
    ("fault", "told"),
    [
        # OpenRouter's documented 403: this question was flagged by moderation (not the bot's settings).
        (
            ServerError(status=403, message="Your input was flagged by moderation"),
            "Sorry, the language model refused this question",
        ),
        # Out of credits (402) or quota (OpenAI's 429 insufficient_quota): trying again later will not help.
        (
            ServerError(status=402, message="Insufficient credits"),
            "Sorry, I can't answer for now: the bot's language model account has run out of credits or quota.",
        ),
        (
            ServerError(status=429, message="You exceeded your current quota", code="insufficient_quota"),
            "Sorry, I can't answer for now: the bot's language model account has run out of credits or quota.",
        ),
    ],
)
async def test_a_refusal_the_provider_explains_is_told_as_what_it_is(world, run_bot, caplog, fault, told):
    world.model.fail_next(fault, count=5)  # a 429 is retried by the client
    async with run_bot():
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Is this fine?"))
        await wait_for_outcome(world, Outcome.FAILED.value)
        [line] = world.standin.bot_messages(world.channel_id)
        assert line.content.startswith(told), line.content
        assert "try again in a few minutes" not in line.content
    quota = fault.status != 403
    assert ("credits or raise its quota" in caplog.text) is quota, "the operator is told once, at ERROR"


async def test_stream_cut_midway_keeps_text_and_marks_incomplete(world, run_bot):
    world.model.script(Reply("alpha beta gamma delta epsilon zeta eta theta", fault=CutStream(after_chunks=4)))
    async with run_bot(model_max_retries=0):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Go on"))
        row = await wait_for_outcome(world, Outcome.INCOMPLETE.value)
        [message] = world.standin.bot_messages(world.channel_id)
        assert message.content.startswith("alpha")
        assert "answer incomplete" in message.content
        assert not message.content.endswith(CURSOR)
        assert row["answer"].startswith("alpha") and row["error"]


async def test_reasoning_never_reaches_the_channel(world, run_bot):
    world.model.script(Reply("<think>they seem young</think>Use the polite form.", reasoning="secret chain"))
    async with run_bot():
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How formal?"))
        await wait_for_outcome(world)
        [message] = world.standin.bot_messages(world.channel_id)
        assert message.content == "Use the polite form."
        assert all("young" not in e.content and "secret" not in e.content for e in message.edits)


async def test_bot_ignores_messages_not_addressed_to_it(world, run_bot):
    async with run_bot():
        await world.standin.send_message(world.channel_id, world.asker_id, "just chatting, no mention")
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("real question"))
        await wait_for_outcome(world)
        assert len(world.model.chat_requests) == 1


async def test_startup_objects_are_frozen_while_running_and_released_at_close(world, run_bot):
    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    async with run_bot() as bot:
        await eventually(lambda: gc.get_freeze_count() > 0, what="objects frozen once ready")
        # discord.py's caches and the loaded modules are among them, so full collections no longer walk them.
        assert gc.get_freeze_count() > 10_000
        # The youngest generation is collected less often while the bot runs; the older ones as before.
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Still answering?"))
        await wait_for_outcome(world)
        assert bot.is_ready()
    assert gc.get_freeze_count() == 0  # all of it collectable again once the bot has closed
    assert gc.get_threshold() == before
