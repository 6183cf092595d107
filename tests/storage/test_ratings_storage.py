import pytest

from bot.feedback.ratings import RatingChange, RatingScale, apply_reaction
from bot.pseudonyms import Pseudonymizer
from bot.storage import AnswerResult, NewAnswer, Outcome, SqliteStorage
from tests.helpers import cells_containing

SCALE = RatingScale(("✅", "🤔", "❌"))
ASKER, OTHER = 1001, 2002


@pytest.fixture
async def storage(tmp_path):
    storage = await SqliteStorage.open(tmp_path / "bot.sqlite3")
    await storage.migrate()
    yield storage
    await storage.close()


@pytest.fixture
def pseudonyms():
    return Pseudonymizer(b"k" * 32)


async def make_answer(storage, pseudonyms, message_ids=(500, 501)):
    answer_id = await storage.start_answer(
        NewAnswer(
            guild_id=1,
            channel_id=2,
            question_message_id=3,
            asker_hash=pseudonyms.member(ASKER),
            question="q",
            model="m",
        )
    )
    for part, message_id in enumerate(message_ids):
        await storage.add_answer_message(answer_id, message_id, 2, part)
    return answer_id


async def react(storage, pseudonyms, message_id, user_id, emoji, added=True):
    return await apply_reaction(
        storage, pseudonyms, SCALE, message_id=message_id, user_id=user_id, emoji=emoji, added=added
    )


def test_scale_values_best_first():
    assert [SCALE.value_of(e) for e in SCALE.emojis] == [3, 2, 1]
    assert SCALE.value_of("🎉") is None


async def test_rating_change_and_removal(storage, pseudonyms):
    answer_id = await make_answer(storage, pseudonyms)
    assert await react(storage, pseudonyms, 501, OTHER, "✅") is RatingChange.STORED
    assert await react(storage, pseudonyms, 500, OTHER, "🤔") is RatingChange.STORED  # any part of the answer
    [rating] = await storage.ratings_for_answer(answer_id)
    assert (rating.value, rating.is_asker, rating.rater_hash) == (2, False, pseudonyms.member(OTHER))
    # Removing the older, replaced reaction keeps the current rating.
    assert await react(storage, pseudonyms, 501, OTHER, "✅", added=False) is RatingChange.IGNORED
    assert len(await storage.ratings_for_answer(answer_id)) == 1
    assert await react(storage, pseudonyms, 500, OTHER, "🤔", added=False) is RatingChange.REMOVED
    assert await storage.ratings_for_answer(answer_id) == []


async def test_duplicate_event_counts_once_and_asker_is_marked(storage, pseudonyms):
    answer_id = await make_answer(storage, pseudonyms)
    for _ in range(3):
        await react(storage, pseudonyms, 500, ASKER, "❌")
    [rating] = await storage.ratings_for_answer(answer_id)
    assert rating.is_asker and rating.value == 1


async def test_non_rating_emoji_and_non_answer_message_ignored(storage, pseudonyms):
    answer_id = await make_answer(storage, pseudonyms)
    assert await react(storage, pseudonyms, 500, OTHER, "🎉") is RatingChange.IGNORED
    assert await react(storage, pseudonyms, 999, OTHER, "✅") is RatingChange.IGNORED
    assert await storage.ratings_for_answer(answer_id) == []


async def test_no_discord_id_is_stored(storage, pseudonyms, tmp_path):
    answer_id = await make_answer(storage, pseudonyms)
    await react(storage, pseudonyms, 500, OTHER, "✅")
    await storage.finish_answer(answer_id, AnswerResult(answer="a", outcome=Outcome.OK))
    await storage.close()
    assert cells_containing(tmp_path / "bot.sqlite3", OTHER) == []
    assert cells_containing(tmp_path / "bot.sqlite3", ASKER) == []
    # The pseudonym itself is there: the check above would see an id stored in any column.
    assert cells_containing(tmp_path / "bot.sqlite3", pseudonyms.member(OTHER)) != []


async def test_interrupted_answers_are_closed_on_start(storage, pseudonyms):
    answer_id = await make_answer(storage, pseudonyms)
    await storage.save_answer_progress(answer_id, "partial text")
    assert await storage.close_interrupted_answers() == 1
    record = await storage.get_answer(answer_id)
    assert record is not None
    assert (record.outcome, record.answer) == (Outcome.INCOMPLETE, "partial text")
