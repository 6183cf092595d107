import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from bot.feedback.consent import consent_version
from bot.feedback.ratings import RatingChange, apply_reaction, record_rating
from bot.feedback.scales import FIT3, LIKERT5
from bot.pseudonyms import Pseudonymizer
from bot.storage import AnswerResult, ConsentLevel, NewAnswer, Outcome, RatingSource, SqliteStorage
from bot.storage.sqlite.connection import BUSY_TIMEOUT_MS
from tests.helpers import cells_containing

ASKER, OTHER = 1001, 2002
GUILD = 1


@pytest.fixture
def pseudonyms():
    return Pseudonymizer(b"k" * 32)


async def consent(storage, pseudonyms, user_id, level=ConsentLevel.RATINGS):
    settings = await storage.guild_settings(GUILD)
    await storage.set_consent(GUILD, pseudonyms.member(user_id), level, consent_version(settings))


async def make_answer(storage, pseudonyms, message_ids=(500, 501)):
    answer_id = await storage.start_answer(
        NewAnswer(
            guild_id=GUILD,
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
    change, _, _ = await apply_reaction(
        storage, pseudonyms, message_id=message_id, user_id=user_id, emoji=emoji, added=added
    )
    return change


def test_scale_values_best_first():
    assert [FIT3.value_of(e) for e in FIT3.emojis] == [3, 2, 1]
    assert [LIKERT5.value_of(e) for e in LIKERT5.emojis] == [5, 4, 3, 2, 1]
    assert FIT3.value_of("🎉") is None


async def test_nothing_is_stored_without_consent(storage, pseudonyms):
    answer_id = await make_answer(storage, pseudonyms)
    assert await react(storage, pseudonyms, 500, OTHER, "✅") is RatingChange.NEEDS_CONSENT
    await consent(storage, pseudonyms, OTHER, ConsentLevel.DECLINED)
    assert await react(storage, pseudonyms, 500, OTHER, "✅") is RatingChange.DECLINED
    assert await storage.ratings_for_answer(answer_id) == []


async def test_rating_change_and_removal(storage, pseudonyms):
    answer_id = await make_answer(storage, pseudonyms)
    await consent(storage, pseudonyms, OTHER)
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
    await consent(storage, pseudonyms, ASKER)
    for _ in range(3):
        await react(storage, pseudonyms, 500, ASKER, "❌")
    [rating] = await storage.ratings_for_answer(answer_id)
    assert rating.is_asker
    assert rating.value == 1


async def test_consent_version_bump_asks_again(storage, pseudonyms):
    await make_answer(storage, pseudonyms)
    await consent(storage, pseudonyms, OTHER)
    await storage.update_guild_settings(GUILD, 9, {"consent_note": "new", "consent_revision": 2}, detail="note")
    assert await react(storage, pseudonyms, 500, OTHER, "✅") is RatingChange.NEEDS_CONSENT


async def test_non_rating_emoji_and_non_answer_message_ignored(storage, pseudonyms):
    answer_id = await make_answer(storage, pseudonyms)
    await consent(storage, pseudonyms, OTHER)
    assert await react(storage, pseudonyms, 500, OTHER, "🎉") is RatingChange.IGNORED
    assert await react(storage, pseudonyms, 999, OTHER, "✅") is RatingChange.IGNORED
    assert await storage.ratings_for_answer(answer_id) == []


async def test_no_discord_id_is_stored(storage, pseudonyms, tmp_path):
    answer_id = await make_answer(storage, pseudonyms)
    await consent(storage, pseudonyms, OTHER)
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
    assert len(await storage.close_interrupted_answers()) == 1
    record = await storage.get_answer(answer_id)
    assert record is not None
    assert (record.outcome, record.answer) == (Outcome.INCOMPLETE, "partial text")


async def test_a_rating_or_comment_checked_before_a_decline_is_not_stored_after_it(storage, pseudonyms):
    from bot.storage import CommentSource, ConsentChanged, NewComment, Rating, RatingSource

    answer_id = await make_answer(storage, pseudonyms)
    await consent(storage, pseudonyms, OTHER, ConsentLevel.QUOTES)
    version = consent_version(await storage.guild_settings(GUILD))
    rater = pseudonyms.member(OTHER)
    rating = Rating(answer_id, rater, 3, 3, False, RatingSource.REACTION)
    comment = NewComment(answer_id, rater, "too formal", CommentSource.REPLY, quotable=True, message_id=77)
    await storage.put_rating(rating, consent_version=version)
    await storage.put_rating(rating, consent_version=version)  # the same again: no change, no error
    assert await storage.add_comment(comment, consent_version=version) is not None
    assert await storage.add_comment(comment, consent_version=version) is None  # a redelivered event
    # The member lowers their choice to comments without quotes: a comment written now is not quotable.
    await consent(storage, pseudonyms, OTHER, ConsentLevel.COMMENTS)
    later = NewComment(answer_id, rater, "but kind", CommentSource.REPLY, quotable=True, message_id=78)
    await storage.add_comment(later, consent_version=version)
    assert [quotable for _, text, quotable in await storage.comments_for_answer(answer_id) if text == "but kind"] == [
        False
    ]
    # The member declines (which deletes what they gave); what was checked before that is refused by the write.
    await consent(storage, pseudonyms, OTHER, ConsentLevel.DECLINED)
    with pytest.raises(ConsentChanged):
        await storage.put_rating(rating, consent_version=version)
    with pytest.raises(ConsentChanged):
        await storage.add_comment(
            NewComment(answer_id, rater, "x", CommentSource.REPLY, True, 79), consent_version=version
        )
    assert await storage.ratings_for_answer(answer_id) == []
    assert await storage.comments_for_answer(answer_id) == []
    # A consent to an older notice does not cover a write either.
    await consent(storage, pseudonyms, OTHER, ConsentLevel.RATINGS)
    with pytest.raises(ConsentChanged):
        await storage.put_rating(rating, consent_version=version + "-old")


async def test_a_decline_that_overtakes_a_rating_is_answered_as_declined(storage, pseudonyms, monkeypatch):
    from bot.feedback.comments import CommentResult, save_comment
    from bot.feedback.ratings import record_rating
    from bot.storage import CommentSource, RatingSource

    answer_id = await make_answer(storage, pseudonyms)
    answer = await storage.get_answer(answer_id)
    rater = pseudonyms.member(OTHER)
    await consent(storage, pseudonyms, OTHER, ConsentLevel.COMMENTS)
    granted = await storage.consent(GUILD, rater)
    await consent(storage, pseudonyms, OTHER, ConsentLevel.DECLINED)
    read = storage.consent
    stale = [granted]  # the first read still sees the agreement: the decline lands between read and write

    async def consent_read_before_the_decline(guild_id, member_hash):
        return stale.pop() if stale else await read(guild_id, member_hash)

    monkeypatch.setattr(storage, "consent", consent_read_before_the_decline)
    change = await record_rating(storage, pseudonyms, answer, user_id=OTHER, value=3, source=RatingSource.REACTION)
    assert change is RatingChange.DECLINED, "not asked again: they said no"
    stale.append(granted)
    result = await save_comment(storage, pseudonyms, answer, user_id=OTHER, text="x", source=CommentSource.REPLY)
    assert result is CommentResult.DECLINED
    assert await storage.ratings_for_answer(answer_id) == [] and await storage.comments_for_answer(answer_id) == []


async def test_a_deletion_while_a_digest_reads_does_not_hold_the_database_back(storage):
    """Emptying the WAL after a deletion waits for no reader: a digest worker's read transaction made every other
    database call wait for the busy timeout (5 s). The WAL is emptied by a later deletion or the close instead."""
    answer_id = await storage.start_answer(
        NewAnswer(guild_id=1, channel_id=5, question_message_id=None, asker_hash="asker", question="Q?", model="m")
    )
    await storage.finish_answer(answer_id, AnswerResult("A.", Outcome.OK))
    await storage.set_consent(1, "rater", ConsentLevel.COMMENTS, "1.1")
    reader = sqlite3.connect(storage.path)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM answers").fetchall()  # a snapshot held, as a digest worker's read
        started = time.monotonic()
        forgotten = await storage.forget_member("asker")
        assert forgotten.counts["questions"] == 1
        assert await storage.tokens_used_since(1, "2000-01-01T00:00:00.000Z") >= 0
        assert time.monotonic() - started < 2.0
    finally:
        reader.close()


async def test_a_wal_wipe_a_reader_kept_back_is_done_by_the_next_retention_run_even_if_it_purges_nothing(storage):
    answer_id = await storage.start_answer(
        NewAnswer(
            guild_id=1, channel_id=5, question_message_id=None, asker_hash="asker", question="SECRET-Q", model="m"
        )
    )
    await storage.finish_answer(answer_id, AnswerResult("A.", Outcome.OK))
    reader = sqlite3.connect(storage.path)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM answers").fetchall()
        await storage.forget_member("asker")
    finally:
        reader.close()
    wal = Path(f"{storage.path}-wal")
    assert b"SECRET-Q" in wal.read_bytes(), "the reader kept the WAL from being emptied"
    assert await storage.purge_expired_text("2000-01-01T00:00:00.000Z") == (0, 0)
    assert b"SECRET-Q" not in wal.read_bytes()


async def started_answer(storage: SqliteStorage, *, ephemeral: bool) -> int:
    new = NewAnswer(
        guild_id=1,
        channel_id=5,
        question_message_id=None,
        asker_hash="asker",
        question="Q?",
        model="m",
        ephemeral=ephemeral,
    )
    return await storage.start_answer(new)


async def test_forgetting_a_member_blanks_their_private_answers_and_keeps_their_public_ones(storage):
    ids = []
    for ephemeral in (True, False):
        answer_id = await started_answer(storage, ephemeral=ephemeral)
        await storage.finish_answer(answer_id, AnswerResult(f"Answer {ephemeral}.", Outcome.OK))
        ids.append(answer_id)
    await storage.forget_member("asker")
    texts = await storage._fetchall("SELECT answer_id, answer FROM answers ORDER BY answer_id")
    assert [tuple(row) for row in texts] == [(ids[0], ""), (ids[1], "Answer False.")]


async def test_a_private_answer_forgotten_while_it_is_written_stays_blank(storage):
    answer_id = await started_answer(storage, ephemeral=True)
    await storage.save_answer_progress(answer_id, "Greet Pak Budi")
    await storage.forget_member("asker")
    await storage.save_answer_progress(answer_id, "Greet Pak Budi, your boss")
    await storage.finish_answer(answer_id, AnswerResult("Greet Pak Budi, your boss.", Outcome.OK))
    assert [tuple(row) for row in await storage._fetchall("SELECT answer, outcome FROM answers")] == [("", "ok")]


async def test_a_cancelled_wal_wipe_leaves_the_busy_timeout_as_it_was(storage):
    """The WAL is emptied without waiting (busy timeout 0); cancelled meanwhile (a member's click abandoned, the bot
    stopping), every later database call must still wait out a digest worker's read as usual, not fail at once."""
    wiping = asyncio.create_task(storage._wipe_wal())
    await asyncio.sleep(0)  # it is setting the timeout to 0
    wiping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await wiping
    [(timeout,)] = await storage._fetchall("PRAGMA busy_timeout")
    assert timeout == BUSY_TIMEOUT_MS


async def test_threads_named_after_deleted_questions_are_queued_until_renamed_or_given_up(storage):
    for question_message_id, asker in ((900, "asker"), (901, "other"), (None, "asker")):
        answer_id = await storage.start_answer(
            NewAnswer(
                guild_id=1,
                channel_id=question_message_id or 5,  # a thread opened from the question has its message's id
                question_message_id=question_message_id,
                asker_hash=asker,
                question="Q?",
                model="m",
            )
        )
        await storage.finish_answer(answer_id, AnswerResult("A.", Outcome.OK))
    forgotten = await storage.forget_member("asker")
    assert forgotten.question_threads == [900]
    assert await storage.threads_to_rename(limit=10) == [900]
    assert not await storage.forget_question(1), "already unlinked"
    assert await storage.forget_question(2)
    assert await storage.threads_to_rename(limit=10) == [900, 901]
    assert await storage.threads_to_rename(limit=1) == [900]
    assert not await storage.thread_rename_failed(900, max_attempts=2)
    assert await storage.threads_to_rename(limit=10) == [901, 900], "kept after one failure, after those not tried"
    assert await storage.thread_rename_failed(900, max_attempts=2), "given up after two"
    assert await storage.threads_to_rename(limit=10) == [901]
    await storage.thread_renamed(901)
    assert await storage.threads_to_rename(limit=10) == []


@pytest.mark.parametrize("left", [set(), {2}], ids=["no reaction left", "another rating reaction left"])
async def test_a_button_click_while_a_removal_reads_discord_is_kept(storage, pseudonyms, left):
    """A reaction taken back is checked against the member's other reactions on Discord; a rating button clicked
    during that read is newer, and the removal (or the rating of the reaction left) must not replace it."""
    answer_id = await make_answer(storage, pseudonyms)
    await consent(storage, pseudonyms, OTHER)
    assert await react(storage, pseudonyms, 500, OTHER, "✅") is RatingChange.STORED
    answer = await storage.get_answer(answer_id)
    rater = pseudonyms.member(OTHER)

    async def read_while_the_member_clicks(_answer, _value_of):
        change = await record_rating(storage, pseudonyms, answer, user_id=OTHER, value=3, source=RatingSource.BUTTON)
        assert change is RatingChange.STORED  # the member is thanked for "Fits"
        await storage.set_reasons(answer_id, rater, ["good nuance"])
        return left

    await apply_reaction(
        storage, pseudonyms, message_id=500, user_id=OTHER, emoji="✅", added=False,
        still_reacting=read_while_the_member_clicks,
    )  # fmt: skip
    rating = await storage.rating(answer_id, rater)
    assert rating is not None and (rating.value, rating.source) == (3, RatingSource.BUTTON)
    assert await storage.reasons(answer_id, rater) == ["good nuance"]


async def test_reactions_read_from_discord_leave_a_button_rating_and_say_nothing_was_stored(storage, pseudonyms):
    """`keep_button`: a rating worked out from reactions read a moment ago never overwrites a rating button clicked
    since, and is not reported as stored (the catch-up's count, a reaction taken back), while a reaction rating read
    again, or one that differs, still is."""
    from bot.feedback.ratings import record_read_reaction
    from bot.storage import Rating

    answer_id = await make_answer(storage, pseudonyms)
    answer = await storage.get_answer(answer_id)
    settings = await storage.guild_settings(GUILD)
    await consent(storage, pseudonyms, OTHER)
    await consent(storage, pseudonyms, ASKER)
    rater, asker = pseudonyms.member(OTHER), pseudonyms.member(ASKER)
    version = consent_version(settings)
    assert await storage.put_rating(Rating(answer_id, rater, 1, 3, False, RatingSource.BUTTON), consent_version=version)

    change = await record_read_reaction(storage, pseudonyms, answer, OTHER, 3, settings)
    assert change is RatingChange.IGNORED
    assert [(r.value, r.source) for r in await storage.ratings_for_answer(answer_id)] == [(1, RatingSource.BUTTON)]
    # Worked out to the button's value: still not this reaction's rating (its source differs).
    kept = Rating(answer_id, rater, 1, 3, False, RatingSource.REACTION)
    assert not await storage.put_rating(kept, consent_version=version, keep_button=True)

    # A reaction rating: replaced, and read again unchanged (a redelivery) still reported as stored.
    assert await record_read_reaction(storage, pseudonyms, answer, ASKER, 2, settings) is RatingChange.STORED
    assert await record_read_reaction(storage, pseudonyms, answer, ASKER, 3, settings) is RatingChange.STORED
    assert await record_read_reaction(storage, pseudonyms, answer, ASKER, 3, settings) is RatingChange.STORED
    assert (await storage.rating(answer_id, asker)).value == 3
    # Without keep_button a click replaces a button rating as before.
    assert await storage.put_rating(Rating(answer_id, rater, 2, 3, False, RatingSource.BUTTON), consent_version=version)
    assert (await storage.rating(answer_id, rater)).value == 2


async def test_consent_covers_an_answer_only_when_unbroken_since_before_it(storage, pseudonyms):
    """The read-back of reactions stores one with no stored rating only for an answer posted while the member's
    consent covered ratings without a break since (bot/feedback/catch_up.py)."""
    rater = pseudonyms.member(OTHER)
    assert not await storage.consent_covered_answer(rater, 999), "no such answer"
    await consent(storage, pseudonyms, OTHER, ConsentLevel.RATINGS)
    await consent(storage, pseudonyms, OTHER, ConsentLevel.COMMENTS)  # more, not a break
    await asyncio.sleep(0.005)  # times are stored to the millisecond
    answer_id = await make_answer(storage, pseudonyms)
    assert await storage.consent_covered_answer(rater, answer_id)
    await asyncio.sleep(0.005)
    await consent(storage, pseudonyms, OTHER, ConsentLevel.DECLINED)
    assert not await storage.consent_covered_answer(rater, answer_id)
    await consent(storage, pseudonyms, OTHER, ConsentLevel.RATINGS)
    assert not await storage.consent_covered_answer(rater, answer_id), "agreed again after the answer was posted"
    await asyncio.sleep(0.005)
    later = await make_answer(storage, pseudonyms, message_ids=(600,))
    assert await storage.consent_covered_answer(rater, later)
    # A decision from before decisions had a history: the current one counts.
    await storage._write_one("DELETE FROM consent_events WHERE member_hash = ?", (rater,))
    assert not await storage.consent_covered_answer(rater, answer_id)
    await storage._write_one(
        "UPDATE consents SET decided_at = ? WHERE member_hash = ?", ("2000-01-01T00:00:00.000Z", rater)
    )
    assert await storage.consent_covered_answer(rater, answer_id)
    assert not await storage.consent_covered_answer(pseudonyms.member(ASKER), answer_id), "never chose"


async def test_the_same_value_on_another_scale_is_another_rating(storage, pseudonyms):
    """3 of 3 fits; 3 of 5 is neutral: a re-rating on the new scale after the moderators changed it is stored."""
    from bot.storage import Rating

    answer_id = await make_answer(storage, pseudonyms)
    rater = pseudonyms.member(OTHER)
    assert await storage.put_rating(Rating(answer_id, rater, 3, 3, False, RatingSource.REACTION))
    assert await storage.put_rating(Rating(answer_id, rater, 3, 5, False, RatingSource.REACTION))
    stored = await storage.rating(answer_id, rater)
    assert stored is not None and (stored.value, stored.scale_size) == (3, 5)


async def test_threads_that_keep_failing_to_be_renamed_do_not_hold_back_new_ones(storage):
    with sqlite3.connect(storage.path) as conn:
        conn.executemany(
            "INSERT INTO threads_to_rename (thread_id, guild_id, added_at) VALUES (?, 1, ?)",
            [(thread, f"2026-01-01T00:00:{thread:02d}.000Z") for thread in range(1, 4)],
        )
        conn.execute("INSERT INTO threads_to_rename (thread_id, guild_id) VALUES (99, 2)")  # queued just now
    for thread in (1, 2, 3):
        assert not await storage.thread_rename_failed(thread, max_attempts=48)
    assert await storage.threads_to_rename(limit=2) == [99, 1]


async def test_the_prompt_hash_goes_with_the_question_when_forgotten_or_purged(storage):
    """The prompt's SHA-256 was made from the question's words: kept, it let anyone holding the database check a
    guessed question against it after /privacy forget or the retention purge had removed the text."""
    ids = []
    for asker in ("forgotten", "kept"):
        new = NewAnswer(
            guild_id=1,
            channel_id=5,
            question_message_id=None,
            asker_hash=asker,
            question="How do I greet my boss?",
            model="m",
            prompt_sha256="ab" * 32,
        )
        ids.append(await storage.start_answer(new))
        await storage.finish_answer(ids[-1], AnswerResult("Greet them first.", Outcome.OK))
    await storage.forget_member("forgotten")
    hashes = await storage._fetchall("SELECT answer_id, prompt_sha256 FROM answers ORDER BY answer_id")
    assert [tuple(row) for row in hashes] == [(ids[0], None), (ids[1], "ab" * 32)]
    assert await storage.purge_expired_text("2999-01-01T00:00:00.000Z") == (2, 0)
    assert [tuple(row) for row in await storage._fetchall("SELECT prompt_sha256 FROM answers")] == [(None,), (None,)]


async def test_a_rating_remembers_the_value_it_replaced_on_the_same_scale(storage: SqliteStorage) -> None:
    """What a member changed from: taking back the newer reaction makes that one the rating again (and no reaction
    from before a decline or a forget request, which delete ratings, can pass for it)."""
    from bot.storage import Rating, RatingSource

    answer_id = await storage.start_answer(
        NewAnswer(guild_id=1, channel_id=5, question_message_id=None, asker_hash="asker", question="Q?", model="m")
    )

    async def rate(value: int, scale: int = 3) -> int | None:
        await storage.put_rating(Rating(answer_id, "rater", value, scale, False, RatingSource.REACTION))
        stored = await storage.rating(answer_id, "rater")
        assert stored is not None and stored.value == value
        return stored.previous_value

    assert await rate(2) is None
    assert await rate(1) == 2
    assert await rate(1) == 2, "the same rating again changes nothing"
    assert await rate(3) == 1
    assert await rate(3, scale=5) is None, "a value on another scale is not one to go back to"
    await storage.delete_rating(answer_id, "rater")
    assert await rate(2) is None, "a new rating after a deletion has nothing to go back to"


async def test_a_comment_not_kept_is_not_checked_for_length_first(storage, pseudonyms):
    """A member who had not chosen, with a comment over the limit, was told to shorten it and send it again, and
    then that it would not be kept."""
    from bot.errors import UserFacingError
    from bot.feedback.comments import MAX_COMMENT_CHARS, CommentResult, save_comment
    from bot.storage import CommentSource

    answer = await storage.get_answer(await make_answer(storage, pseudonyms))
    long = "x" * (MAX_COMMENT_CHARS + 1)
    result = await save_comment(storage, pseudonyms, answer, user_id=OTHER, text=long, source=CommentSource.REPLY)
    assert result is CommentResult.NEEDS_CONSENT
    await consent(storage, pseudonyms, OTHER, ConsentLevel.RATINGS)
    result = await save_comment(storage, pseudonyms, answer, user_id=OTHER, text=long, source=CommentSource.REPLY)
    assert result is CommentResult.NOT_ALLOWED
    await consent(storage, pseudonyms, OTHER, ConsentLevel.COMMENTS)
    with pytest.raises(UserFacingError):  # kept, so checked
        await save_comment(storage, pseudonyms, answer, user_id=OTHER, text=long, source=CommentSource.REPLY)
