"""The day's token use per server: one database read per server and day, then counted in memory."""

from datetime import UTC, datetime, timedelta

from bot.answers.budget import DailyTokens, utc_day
from bot.storage import AnswerResult, NewAnswer, Outcome, SqliteStorage

GUILD = 5


async def answered(storage: SqliteStorage, tokens_in: int, tokens_out: int, guild_id: int = GUILD) -> None:
    answer_id = await storage.start_answer(NewAnswer(guild_id, 1, None, "asker", "question?", "model"))
    result = AnswerResult("answer", Outcome.OK, tokens_in=tokens_in, tokens_out=tokens_out)
    await storage.finish_answer(answer_id, result)


async def test_first_read_comes_from_the_answers_then_closed_answers_are_added(storage):
    await answered(storage, 100, 20)
    await answered(storage, 7, 3, guild_id=GUILD + 1)
    tokens = DailyTokens(storage)
    assert await tokens.used(GUILD) == 120
    assert await tokens.used(GUILD + 1) == 10
    await answered(storage, 50, 5)  # recorded, but this counter is told by `add`, not by re-reading
    assert await tokens.used(GUILD) == 120
    tokens.add(GUILD, 55, utc_day())
    assert await tokens.used(GUILD) == 175 == await storage.tokens_used_since(GUILD, "1970-01-01T00:00:00.000Z")


async def test_a_new_day_starts_from_the_table_and_yesterdays_answers_are_not_added(storage):
    await answered(storage, 40, 2)
    tokens = DailyTokens(storage)
    today = datetime.now(UTC)
    assert await tokens.used(GUILD, today) == 42
    tomorrow = today + timedelta(days=1)
    assert await tokens.used(GUILD, tomorrow) == 0
    tokens.add(GUILD, 1000, utc_day(today))  # an answer started yesterday closes after midnight
    assert await tokens.used(GUILD, tomorrow) == 0


async def test_add_before_any_read_is_left_to_the_table(storage):
    tokens = DailyTokens(storage)
    await answered(storage, 8, 2)
    tokens.add(GUILD, 10, utc_day())
    assert await tokens.used(GUILD) == 10, "counted once: the read includes the answer, the add did nothing"
