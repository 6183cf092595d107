"""Consent decisions and forget requests through the privacy log and a real database: logged, then made with
their number; re-applied once when the database does not reflect them."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.feedback.privacy_requests import PrivacyRequests
from bot.storage import ConsentLevel, SqliteStorage
from bot.storage.privacy_log import PrivacyLog, PrivacyLogError

KEEP = timedelta(days=400)


def requests_for(storage: SqliteStorage, path: Path) -> tuple[PrivacyRequests, PrivacyLog]:
    log = PrivacyLog.open(path, KEEP)
    return PrivacyRequests(storage, log), log


async def consent_rows(storage: SqliteStorage) -> list[tuple[object, ...]]:
    rows = await storage._fetchall("SELECT member_hash, level, decided_at FROM consents ORDER BY member_hash")
    return [tuple(row) for row in rows]


async def test_a_decision_is_logged_then_stored_with_its_number_and_time(storage: SqliteStorage, tmp_path: Path):
    requests, log = requests_for(storage, tmp_path / "privacy.jsonl")
    await requests.decide(1, "m1", ConsentLevel.COMMENTS, "1.1")
    await requests.decide(1, "m1", ConsentLevel.DECLINED, "1.1")
    [first, second] = log.requests
    assert await consent_rows(storage) == [("m1", "declined", second.at)], "the log's time is the database's"
    events = await storage._fetchall("SELECT level, decided_at FROM consent_events ORDER BY event_id")
    assert [tuple(row) for row in events] == [("comments", first.at), ("declined", second.at)]
    assert await storage.privacy_log_applied() == 2
    assert await requests.replay() == 0, "nothing to re-apply: the database reflects both"


async def test_a_request_the_database_missed_is_made_once_at_start_up(storage: SqliteStorage, tmp_path: Path, caplog):
    requests, log = requests_for(storage, tmp_path / "privacy.jsonl")
    await requests.decide(1, "m1", ConsentLevel.COMMENTS, "1.1")
    await storage.set_consent(1, "m2", ConsentLevel.RATINGS, "1.1")
    # Logged, then the process stopped before the database changed.
    log.record_consent(1, "m1", ConsentLevel.RATINGS, "1.1", False, datetime.now(UTC))
    log.record_forget("m2", datetime.now(UTC))
    caplog.set_level(logging.WARNING, logger="bot.feedback.privacy_requests")
    restarted, _ = requests_for(storage, log.path)
    assert await restarted.replay() == 2
    assert "re-applied 2 privacy request(s)" in caplog.text
    assert [row[:2] for row in await consent_rows(storage)] == [("m1", "ratings")], "m2 was forgotten"
    assert await storage.privacy_log_applied() == 3
    assert await restarted.replay() == 0


async def test_the_databases_mark_never_goes_back(storage: SqliteStorage):
    await storage.set_consent(1, "m1", ConsentLevel.COMMENTS, "1.1", logged=10)
    await storage.forget_member("m2", logged=9)
    assert await storage.privacy_log_applied() == 10


async def test_a_missing_log_stops_the_start_when_the_database_reflects_logged_requests(
    storage: SqliteStorage, tmp_path: Path
):
    await storage.set_consent(1, "m1", ConsentLevel.COMMENTS, "1.1", logged=5)
    requests, _ = requests_for(storage, tmp_path / "moved" / "privacy.jsonl")
    with pytest.raises(PrivacyLogError) as raised:
        await requests.replay()
    message = str(raised.value)
    assert f"there is no log at {tmp_path / 'moved' / 'privacy.jsonl'}: set CULTUREBOT_PRIVACY_LOG_FILE" in message
    assert "if it is lost, create an empty file there to start a new one" in message


async def test_an_empty_or_short_log_numbers_new_requests_after_the_databases_mark(
    storage: SqliteStorage, tmp_path: Path, caplog
):
    await storage.set_consent(1, "m1", ConsentLevel.COMMENTS, "1.1", logged=5)
    path = tmp_path / "new-log.jsonl"
    path.write_text("")  # a new log the operator started, or one whose lines all grew old
    requests, log = requests_for(storage, path)
    caplog.set_level(logging.INFO, logger="bot.feedback.privacy_requests")
    assert await requests.replay() == 0
    assert "is empty; numbering continues after request 5" in caplog.text
    await requests.forget("m1")
    assert [request.seq for request in log.requests] == [6]
    assert await storage.privacy_log_applied() == 6

    await storage.set_consent(1, "m2", ConsentLevel.COMMENTS, "1.1", logged=9)  # the log lost lines 7 to 9
    caplog.clear()
    caplog.set_level(logging.WARNING, logger="bot.feedback.privacy_requests")
    restarted, log = requests_for(storage, path)
    assert await restarted.replay() == 0
    assert "ends at request 6 but the database reflects requests up to 9: lines were lost" in caplog.text
    await restarted.decide(1, "m2", ConsentLevel.DECLINED, "1.1")
    assert [request.seq for request in log.requests] == [6, 10]


@contextlib.asynccontextmanager
async def database_change_fails(storage: SqliteStorage, path: Path) -> AsyncIterator[None]:
    """The block's database change fails: another process holds the write lock, and the storage's connection
    does not wait for it."""
    await storage._conn.execute("PRAGMA busy_timeout = 0")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


async def test_a_consent_decision_whose_database_change_failed_never_takes_effect(
    storage: SqliteStorage, tmp_path: Path
):
    requests, log = requests_for(storage, tmp_path / "privacy.jsonl")
    await requests.decide(1, "m1", ConsentLevel.COMMENTS, "1.1")
    async with database_change_fails(storage, tmp_path / "bot.sqlite3"):
        await requests.decide(1, "m1", ConsentLevel.RATINGS, "1.1")
    # The member was told it failed, and goes on commenting: the decision must not delete that later.
    assert [request.seq for request in log.requests] == [1]
    await requests.forget("m2")
    assert [row[:2] for row in await consent_rows(storage)] == [("m1", "comments")]
    assert [request.seq for request in log.requests] == [1, 3], "numbering goes on after the withdrawn line"
    assert await storage.privacy_log_applied() == 3
    assert await requests_for(storage, log.path)[0].replay() == 0


async def test_a_forget_request_whose_database_change_failed_is_made_before_the_next_request(
    storage: SqliteStorage, tmp_path: Path
):
    requests, log = requests_for(storage, tmp_path / "privacy.jsonl")
    await requests.decide(1, "m1", ConsentLevel.COMMENTS, "1.1")
    async with database_change_fails(storage, tmp_path / "bot.sqlite3"):
        await requests.forget("m1")
    assert await storage.privacy_log_applied() == 1
    await requests.decide(1, "m2", ConsentLevel.RATINGS, "1.1")  # m1 is forgotten first: the mark never passes it
    assert [row[:2] for row in await consent_rows(storage)] == [("m2", "ratings")]
    assert [(request.seq, request.member) for request in log.requests] == [(2, "m1"), (3, "m2")]
    assert await storage.privacy_log_applied() == 3


async def test_a_log_that_cannot_be_written_does_not_stop_the_request(storage: SqliteStorage, tmp_path: Path, caplog):
    folder = tmp_path / "logs"
    folder.mkdir()
    requests, log = requests_for(storage, folder / "privacy.jsonl")
    folder.rmdir()
    folder.write_text("")  # where the log's folder was: it cannot be written now
    caplog.set_level(logging.ERROR, logger="bot.feedback.privacy_requests")
    await requests.decide(1, "m1", ConsentLevel.DECLINED, "1.1")
    assert [row[:2] for row in await consent_rows(storage)] == [("m1", "declined")]
    assert "cannot write the privacy log" in caplog.text and "a restore would undo it" in caplog.text
    assert log.requests == [] and await storage.privacy_log_applied() == 0


async def test_requests_made_while_the_log_could_not_be_written_are_logged_once_it_can(
    storage: SqliteStorage, tmp_path: Path, caplog
):
    """Their lines are written, in the order the requests were made, before the next request's and at shutdown
    (`flush`), and the database's mark moves past them: a later restore gets them back too."""
    folder = tmp_path / "logs"
    folder.mkdir()
    requests, log = requests_for(storage, folder / "privacy.jsonl")
    folder.rmdir()
    folder.write_text("")  # the log cannot be written
    caplog.set_level(logging.WARNING, logger="bot.feedback.privacy_requests")
    await requests.decide(1, "m1", ConsentLevel.DECLINED, "1.1")
    await requests.decide(1, "m2", ConsentLevel.RATINGS, "1.1")  # tried again first: still unwritable
    assert await requests.flush() == 2, "two requests are still not in the log"
    assert "2 privacy request(s) are still not in the privacy log" in caplog.text
    folder.unlink()
    folder.mkdir()  # writable again
    await requests.forget("m2")
    assert [(r.seq, type(r).__name__, r.member) for r in log.requests] == [
        (1, "ConsentDecision", "m1"),
        (3, "ForgetRequest", "m2"),  # the forget took m2's earlier line out of the log, as it always does
    ]
    assert await storage.privacy_log_applied() == 3
    assert await requests.flush() == 0

    # A database restored from before all three: the log brings them back.
    await storage._write_one("DELETE FROM bot_state WHERE key = 'privacy_log_applied'", ())
    await storage.set_consent(1, "m1", ConsentLevel.QUOTES, "1.1")
    await storage.set_consent(1, "m2", ConsentLevel.QUOTES, "1.1")
    restarted, _ = requests_for(storage, log.path)
    assert await restarted.replay() == 2
    assert [row[:2] for row in await consent_rows(storage)] == [("m1", "declined")], "m2 forgotten again"


async def test_a_request_never_goes_into_the_log_before_an_earlier_one_still_unwritten(
    storage: SqliteStorage, tmp_path: Path, monkeypatch
):
    """A nearly full disk: the decline's line and its retry fail, the next line would fit. It waits behind the
    decline's, so that a restore replays them in the order they were made."""
    requests, log = requests_for(storage, tmp_path / "privacy.jsonl")
    record = log.record_consent
    failures = [PrivacyLogError("cannot write the privacy log: No space left on device")] * 2

    def nearly_full(*args):
        if failures:
            raise failures.pop()
        return record(*args)

    monkeypatch.setattr(log, "record_consent", nearly_full)
    await requests.decide(1, "m1", ConsentLevel.DECLINED, "1.1")
    await requests.decide(1, "m1", ConsentLevel.QUOTES, "1.1")  # the decline's retry fails: this one waits too
    assert log.requests == []
    assert await requests.flush() == 0
    assert [(request.seq, getattr(request, "level", None)) for request in log.requests] == [
        (1, ConsentLevel.DECLINED),
        (2, ConsentLevel.QUOTES),
    ]
    # Restored from a backup older than both: replayed in order, the later choice wins.
    await storage._write_one("DELETE FROM bot_state WHERE key = 'privacy_log_applied'", ())
    await storage._write_one("DELETE FROM consents", ())
    restarted, _ = requests_for(storage, log.path)
    await restarted.replay()
    assert [row[:2] for row in await consent_rows(storage)] == [("m1", "quotes")]
