"""The database lock (bot/storage/instance_lock.py): one holder at a time, whose pid the others are told."""

from __future__ import annotations

import os
import stat

import pytest

from bot.storage.instance_lock import DatabaseInUse, lock_database, lock_file


def test_a_held_database_cannot_be_locked_again_until_released(tmp_path):
    db = tmp_path / "data" / "bot.sqlite3"
    with lock_database(db):
        # Another open of the lock file, as another process's would be.
        with pytest.raises(DatabaseInUse) as raised:
            lock_database(db)
        assert raised.value.holder == os.getpid()
        assert str(raised.value) == f"another culturebot (pid {os.getpid()}) is using the database {db}"
    with lock_database(db):
        pass
    assert stat.S_IMODE(lock_file(db).stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_a_lock_file_left_by_a_process_that_ended_does_not_stop_the_next(tmp_path):
    db = tmp_path / "bot.sqlite3"
    lock_file(db).write_text("999999\n")  # its holder died: the kernel released its lock
    with lock_database(db):
        assert lock_file(db).read_text() == f"{os.getpid()}\n"
