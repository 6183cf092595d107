"""`/scope preview` costs what an answer costs: it counts toward the server's daily token budget, across restarts,
and a preview the budget has no room for is refused with what was spent and when it renews."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime, time, timedelta

from bot.answers.budget import DailyTokens
from bot.sandbox.fake_openai import Reply
from bot.storage import sqlite_timestamp
from tests.e2e.test_scope_commands import reply_text, run
from tests.helpers import eventually


def rows(world, sql):
    with contextlib.closing(sqlite3.connect(world.tmp_path / "bot.sqlite3")) as conn:
        return conn.execute(sql).fetchall()


def outcomes(world):
    return rows(world, "SELECT outcome, error FROM answers WHERE outcome != 'streaming' ORDER BY answer_id")


def next_midnight() -> int:
    today = datetime.now(UTC).date()
    return int(datetime.combine(today + timedelta(days=1), time(), tzinfo=UTC).timestamp())


async def preview(world, moderator, question="How do I greet my boss?"):
    record = await run(world, moderator, "scope preview", {"question": question})
    return record, await reply_text(world, record)


async def test_a_preview_counts_toward_the_budget_members_then_find_spent(world, run_bot, moderator):
    world.model.script(Reply("Greet him as Pak."))
    async with run_bot(cooldown=0):
        await run(world, moderator, "answers settings", {"daily_token_budget": 10})
        record, header = await preview(world, moderator)
        assert header.startswith("Preview under version 1")
        assert "count toward today's token budget" in header
        answer = await world.standin.wait_for_followup(record.id, count=2)
        await world.standin.wait_for(lambda: world.standin.message(answer.id).content == "Greet him as Pak.")
        [(tokens,)] = await eventually(lambda: rows(world, "SELECT tokens FROM preview_tokens"), what="the count")
        assert tokens > 10
        assert rows(world, "SELECT count(*) FROM answers") == [(0,)], "the preview itself is not recorded"

        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("A question?"))
        refusal = await world.standin.wait_for_message(world.channel_id, lambda m: "budget" in m.content)
        assert "renews at 00:00 UTC" in refusal.content
        assert outcomes(world) == [("refused", "daily token budget")]
        assert len(world.model.chat_requests) == 1

    # The count is kept: a restart's first read of the day includes the preview.
    async with run_bot(cooldown=0):
        await world.standin.send_message(world.channel_id, world.member_id, world.mention("Another question?"))
        await eventually(lambda: len(outcomes(world)) == 2, what="the second question to be settled")
        assert outcomes(world)[1] == ("refused", "daily token budget")
        assert len(world.model.chat_requests) == 1


async def test_a_preview_is_refused_once_the_budget_is_spent_and_says_until_when(world, run_bot, moderator):
    world.model.script("Use Pak with his first name.")
    async with run_bot(cooldown=0):
        await run(world, moderator, "answers settings", {"daily_token_budget": 10})
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I greet my boss?"))
        await eventually(lambda: outcomes(world) == [("ok", None)], what="the member's answer")

        record, line = await preview(world, moderator)
        assert record.ephemeral
        assert line == (
            "No preview: this server has used today's token budget, which previews share with answers; it renews at "
            f"00:00 UTC (<t:{next_midnight()}:R>). Raise it with `/answers settings daily_token_budget`, or preview "
            "once it has renewed."
        )
        assert len(world.model.chat_requests) == 1, "the model was not asked"
        assert [m.content for m in world.standin.interaction(record.id).messages] == [line], "no header, no answer"
        assert rows(world, "SELECT count(*) FROM preview_tokens") == [(0,)]


async def test_a_budget_of_zero_refuses_previews_too(world, run_bot, moderator):
    async with run_bot(cooldown=0):
        await run(world, moderator, "answers settings", {"daily_token_budget": 0})
        _, line = await preview(world, moderator)
        assert line == (
            "No preview: previews use this server's daily token budget, and it is 0 (answers are switched off). "
            "Raise it with `/answers settings daily_token_budget`."
        )
        assert world.model.chat_requests == []


async def test_preview_tokens_count_on_the_day_they_started_and_old_ones_go(storage):
    now = datetime.now(UTC)
    await storage.record_preview_tokens(5, 70, sqlite_timestamp(now - timedelta(days=3)))
    await storage.record_preview_tokens(5, 300, sqlite_timestamp(now - timedelta(days=1)))
    await storage.record_preview_tokens(5, 40, sqlite_timestamp(now))
    await storage.record_preview_tokens(6, 9, sqlite_timestamp(now))
    midnight = datetime.combine(now.date(), time(), tzinfo=UTC)
    assert await storage.tokens_used_since(5, sqlite_timestamp(midnight)) == 40
    assert await storage.tokens_used_since(5, "1970-01-01T00:00:00.000Z") == 340, "the one from three days ago went"
    assert await DailyTokens(storage).used(5) == 40
