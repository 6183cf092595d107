"""The privacy log file: what it writes, what it reads back, what it refuses, and what it drops."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage.privacy_log import ConsentDecision, ForgetRequest, PrivacyLog, PrivacyLogError
from bot.storage.records import ConsentLevel

NOW = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)
KEEP = timedelta(days=400)


def fresh(tmp_path: Path) -> PrivacyLog:
    return PrivacyLog.open(tmp_path / "data" / "bot.privacy-requests.jsonl", KEEP)


def test_requests_are_numbered_written_and_read_back(tmp_path: Path) -> None:
    log = fresh(tmp_path)
    assert log.last_seq == 0 and not log.path.exists(), "an absent file is an empty log, made on the first request"
    decision = log.record_consent(7, "m1", ConsentLevel.QUOTES, "1.2", True, NOW)
    forget = log.record_forget("m2", NOW + timedelta(seconds=1))
    assert decision == ConsentDecision(1, "2026-12-06T22:00:00.000Z", 7, "m1", ConsentLevel.QUOTES, "1.2", True)
    assert forget == ForgetRequest(2, "2026-12-06T22:00:01.000Z", "m2")
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    again = PrivacyLog.open(log.path, KEEP)
    assert again.requests == [decision, forget]
    assert again.after(1) == [forget] and again.after(2) == []
    assert json.loads(log.path.read_text().splitlines()[0]) == {
        "request": "consent",
        "seq": 1,
        "at": "2026-12-06T22:00:00.000Z",
        "guild_id": 7,
        "member": "m1",
        "level": "quotes",
        "consent_version": "1.2",
        "dm_opt_in": True,
    }


def test_a_forget_request_removes_the_members_earlier_lines(tmp_path: Path) -> None:
    log = fresh(tmp_path)
    log.record_consent(7, "m1", ConsentLevel.COMMENTS, "1.2", False, NOW)
    log.record_consent(7, "m2", ConsentLevel.RATINGS, "1.2", False, NOW)
    log.record_consent(8, "m1", ConsentLevel.RATINGS, "1.2", False, NOW)
    log.record_forget("m1", NOW)
    log.record_forget("m1", NOW + timedelta(hours=1))  # asked twice: the newest request is enough
    kept = PrivacyLog.open(log.path, KEEP).requests
    assert [(request.seq, request.member, type(request).__name__) for request in kept] == [
        (2, "m2", "ConsentDecision"),
        (5, "m1", "ForgetRequest"),
    ]
    assert log.path.read_text().count('"member":"m1"') == 1, "only the forget request names m1"


def test_a_line_cut_off_at_the_end_is_dropped_and_the_file_repaired(tmp_path: Path) -> None:
    log = fresh(tmp_path)
    log.record_consent(7, "m1", ConsentLevel.COMMENTS, "1.2", False, NOW)
    whole = log.path.read_bytes()
    log.path.write_bytes(whole + b'{"request":"forget","seq":2,"at":"2026-')
    reopened = PrivacyLog.open(log.path, KEEP)
    assert [request.seq for request in reopened.requests] == [1]
    assert log.path.read_bytes() == whole, "the next request must not be appended to the broken line"
    reopened.record_forget("m3", NOW)
    assert [request.seq for request in PrivacyLog.open(log.path, KEEP).requests] == [1, 2]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"not json", "Expecting value"),
        (b'{"request":"erase","seq":2,"at":"2026-12-06T22:00:00.000Z","member":"m"}', "unknown request 'erase'"),
        (b'{"request":"forget","seq":1,"at":"2026-12-06T22:00:00.000Z","member":"m"}', "is not above"),
        (b'{"request":"forget","seq":2,"at":"yesterday","member":"m"}', "Invalid isoformat"),
        (b'{"request":"consent","seq":2,"at":"2026-12-06T22:00:00.000Z","member":"m","guild_id":1}', "consent_version"),
        (b"", "it is empty"),
    ],
)
def test_a_bad_line_before_the_end_stops_with_its_number(tmp_path: Path, line: bytes, problem: str) -> None:
    log = fresh(tmp_path)
    log.record_consent(7, "m1", ConsentLevel.COMMENTS, "1.2", False, NOW)
    before = log.path.read_bytes() + line + b"\n"
    log.path.write_bytes(before + b'{"request":"forget","seq":9,"at":"2026-12-06T23:00:00.000Z","member":"m9"}\n')
    with pytest.raises(PrivacyLogError) as raised:
        PrivacyLog.open(log.path, KEEP)
    message = str(raised.value)
    assert f"line 2 of the privacy log {log.path}" in message and problem in message
    assert "correct that line" in message
    assert log.path.read_bytes().startswith(before), "nothing is changed in a log that cannot be read"


def test_requests_older_than_the_keep_period_are_dropped(tmp_path: Path) -> None:
    log = fresh(tmp_path)
    log.record_consent(7, "old", ConsentLevel.COMMENTS, "1.2", False, NOW - timedelta(days=401))
    log.record_consent(7, "recent", ConsentLevel.COMMENTS, "1.2", False, NOW - timedelta(days=399))
    assert log.prune(NOW) == 1
    assert [request.member for request in PrivacyLog.open(log.path, KEEP).requests] == ["recent"]
    assert log.prune(NOW) == 0
    # A new request also drops what has grown old since, and keeps numbering after the last one.
    assert log.record_forget("new", NOW + timedelta(days=2)).seq == 3
    assert [request.member for request in PrivacyLog.open(log.path, KEEP).requests] == ["new"]
    # Every line dropped: numbering still goes on after the last request (the database's mark is there).
    assert log.prune(NOW + timedelta(days=500)) == 1 and log.path.read_text() == ""
    assert log.record_forget("later", NOW + timedelta(days=500)).seq == 4


def test_numbering_continues_after_what_the_database_holds(tmp_path: Path) -> None:
    log = fresh(tmp_path)
    log.continue_after(41)
    assert log.record_forget("m1", NOW).seq == 42
    log.continue_after(5)  # never backwards
    assert log.record_forget("m2", NOW).seq == 43


def test_an_unreadable_log_says_which_file(tmp_path: Path) -> None:
    folder = tmp_path / "log-is-a-folder"
    folder.mkdir()
    with pytest.raises(PrivacyLogError, match=f"cannot read the privacy log {folder}"):
        PrivacyLog.open(folder, KEEP)


def test_a_whole_last_line_without_its_newline_gets_one_before_the_next_request(tmp_path: Path) -> None:
    log = fresh(tmp_path)
    log.record_consent(7, "m1", ConsentLevel.COMMENTS, "1.2", False, NOW)
    log.path.write_bytes(log.path.read_bytes().rstrip(b"\n"))  # saved by an editor that drops the final newline
    reopened = PrivacyLog.open(log.path, KEEP)
    reopened.record_forget("m2", NOW)
    assert [request.seq for request in PrivacyLog.open(log.path, KEEP).requests] == [1, 2]


def test_a_short_write_is_finished_not_left_half_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    real_write = os.write

    def half(fd: int, data: bytes) -> int:  # what a filling disk may do: take part of the bytes, raise nothing
        return real_write(fd, bytes(data[: max(1, len(data) // 2)]))

    log = fresh(tmp_path)
    monkeypatch.setattr(os, "write", half)
    log.record_consent(7, "m1", ConsentLevel.COMMENTS, "1.2", False, NOW)
    log.record_forget("m1", NOW)  # a rewrite
    log.record_forget("m2", NOW)  # an append
    monkeypatch.undo()
    assert [request.seq for request in PrivacyLog.open(log.path, KEEP).requests] == [2, 3]
