"""`culturebot backup` as a real process against real SQLite files: a consistent, self-contained copy of a database the
bot is writing to, that never replaces a file, leaves nothing half-written behind and never prints the key."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.exit_status import EX_CONFIG
from bot.storage.migrations import load_migrations
from tests.cli.test_cli import run_cli

ROWS = 300


def migrated(tmp_path: Path) -> Path:
    """A database migrated by the real storage, as `culturebot migrate` leaves it (WAL checkpointed)."""
    db = tmp_path / "data" / "bot.sqlite3"
    result = run_cli("migrate", "--db", str(db), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return db


@contextlib.contextmanager
def running_bot(db: Path) -> Iterator[sqlite3.Connection]:
    """A connection like the bot's (WAL), whose committed rows stay in the -wal file: it is never checkpointed and
    stays open while the test runs."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        assert conn.execute("PRAGMA journal_mode = WAL").fetchone() == ("wal",)
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO guilds (guild_id, name) VALUES (?, ?)", [(i, f"guild {i}") for i in range(ROWS)])
        conn.execute("COMMIT")
        yield conn
    finally:
        conn.close()


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == EX_CONFIG, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("culturebot: ")
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_backup_of_a_database_in_use_has_the_rows_still_in_its_wal_in_one_checked_file(tmp_path):
    db = migrated(tmp_path)
    out = tmp_path / "backups" / "2025" / "bot-backup.sqlite3"  # its folders do not exist yet
    with running_bot(db) as bot:
        # What `cp` of the database file alone would have: the rows are only in the -wal file.
        shutil.copyfile(db, tmp_path / "cp-copy.sqlite3")
        with contextlib.closing(sqlite3.connect(tmp_path / "cp-copy.sqlite3")) as copied:
            assert copied.execute("SELECT count(*) FROM guilds").fetchone() == (0,)

        result = run_cli("backup", "--db", str(db), "--out", str(out), cwd=tmp_path)

        assert result.returncode == 0, result.stderr
        # The bot's connection is not disturbed: it writes at once, without waiting.
        bot.execute("PRAGMA busy_timeout = 0")
        bot.execute("INSERT INTO guilds (guild_id, name) VALUES (?, 'after the backup')", (ROWS,))
    assert leftovers(out.parent) == ["bot-backup.sqlite3"]  # no -wal, -shm, -journal or .partial beside it
    assert out.read_bytes()[18:20] == b"\x01\x01"  # the header's journal mode: not WAL, a file on its own
    with contextlib.closing(sqlite3.connect(f"{out.as_uri()}?mode=ro", uri=True)) as backup:
        assert backup.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert backup.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert backup.execute("SELECT count(*), max(guild_id) FROM guilds").fetchone() == (ROWS, ROWS - 1)
        version = backup.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    assert version == len(load_migrations())
    summary = result.stdout.splitlines()[0]
    assert str(db) in summary and str(out) in summary
    assert f"schema version {version}," in summary and "integrity ok" in summary
    assert f"{out.stat().st_size:,} bytes" in summary
    # What to leave in place when restoring: the log the bot makes members' later requests again from.
    assert f"leave the privacy log {db.with_name('bot.privacy-requests.jsonl')} where it is" in result.stdout
    assert "It keeps them 400 days: restore no older backup." in result.stdout


WRITER = """
import pathlib, sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)  # a write that would have to wait fails at once
conn.execute("PRAGMA journal_mode = WAL")
stop = pathlib.Path(sys.argv[2])
n, failed = 1_000_000, 0
print("ready", flush=True)
while not stop.exists():
    try:  # one transaction, two rows: a consistent copy has both or neither
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO guilds (guild_id, name) VALUES (?, 'pair'), (?, 'pair')", (n, n + 1))
        conn.execute("COMMIT")
        n += 2
    except sqlite3.OperationalError:
        failed += 1
        if conn.in_transaction:
            conn.rollback()
    time.sleep(0.001)
print(n - 1_000_000, failed, flush=True)
"""


def test_a_backup_while_the_bot_writes_all_the_time_finishes_is_one_snapshot_and_never_blocks_a_write(tmp_path):
    # Large enough to take several backup steps (1024 pages each). Copied step by step with a fresh read at each,
    # every write between two steps would restart the copy from the first page: with a write every millisecond,
    # it would never end.
    db = migrated(tmp_path)
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO guilds (guild_id, name) VALUES (?, ?)", [(i, "x" * 2000) for i in range(12_000)])
        conn.execute("COMMIT")
    assert db.stat().st_size > 5 * 1024 * 4096
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITER), str(db), str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        outs = [tmp_path / f"backup-{n}.sqlite3" for n in range(3)]
        results = []
        for out in outs:
            try:
                results.append(run_cli("backup", "--db", str(db), "--out", str(out), cwd=tmp_path))
            except subprocess.TimeoutExpired:
                pytest.fail("the backup did not finish in 60 s while the database was being written")
    finally:
        stop.touch()
        tally, _ = writer.communicate(timeout=30)
    assert [result.returncode for result in results] == [0, 0, 0], [result.stderr for result in results]
    written, failed = (int(word) for word in tally.split())
    pairs = []
    for out in outs:
        with contextlib.closing(sqlite3.connect(f"{out.as_uri()}?mode=ro", uri=True)) as backup:
            assert backup.execute("SELECT count(*) FROM guilds WHERE name != 'pair'").fetchone() == (12_000,)
            pairs.append(backup.execute("SELECT count(*) FROM guilds WHERE name = 'pair'").fetchone()[0])
    assert all(count % 2 == 0 for count in pairs), pairs  # one snapshot each: no transaction copied by halves
    assert 0 < pairs[0] <= pairs[-1] <= written  # the bot wrote before, during and after the backups
    assert failed == 0  # not one of the bot's writes found the database locked by a backup


def test_an_existing_out_is_refused_and_left_as_it_was(tmp_path):
    db = migrated(tmp_path)
    out = tmp_path / "backup.sqlite3"
    out.write_bytes(b"last week's backup")
    with running_bot(db):
        result = run_cli("backup", "--db", str(db), "--out", str(out), cwd=tmp_path)
    line = one_error_line(result)
    assert line == (
        f"culturebot: {out} already exists; a backup never replaces a file: name a new file, or move {out} away"
    )
    assert out.read_bytes() == b"last week's backup"
    assert leftovers(tmp_path) == ["backup.sqlite3", "data"]
    assert result.stdout == ""


@pytest.mark.parametrize("spelling", ["same", "another spelling", "a link to it"])
def test_out_that_is_the_database_itself_is_refused(tmp_path, spelling):
    db = migrated(tmp_path)
    out = {
        "same": db,
        "another spelling": tmp_path / "data" / ".." / "data" / "bot.sqlite3",
        "a link to it": tmp_path / "link.sqlite3",
    }[spelling]
    if spelling == "a link to it":
        out.symlink_to(db)
    with running_bot(db):
        before = db.read_bytes()
        result = run_cli("backup", "--db", str(db), "--out", str(out), cwd=tmp_path)
        line = one_error_line(result)
        assert line == f"culturebot: the backup file {out} is the database itself; name a new file for the backup"
        assert db.read_bytes() == before
        assert not (tmp_path / "data" / "bot.sqlite3.partial").exists()


def test_out_that_is_the_database_s_wal_file_is_refused(tmp_path):
    db = migrated(tmp_path)  # stopped: no -wal file now, but the bot makes one when it starts
    out = db.with_name("bot.sqlite3-wal")
    result = run_cli("backup", "--db", str(db), "--out", str(out), cwd=tmp_path)
    assert "is the database's -wal file, which SQLite uses" in one_error_line(result)
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"just some notes, not a database " * 40, "{db} is not a SQLite database; check the path"),
        (b"", "{db} is an empty file, not a culturebot database; check the path"),
        (None, "no database at {db}; check --db"),
    ],
)
def test_a_file_that_is_not_a_database_is_refused_with_one_clear_line(tmp_path, content, expected):
    db = tmp_path / "notes.sqlite3"
    if content is not None:
        db.write_bytes(content)
    out = tmp_path / "backups" / "backup.sqlite3"
    result = run_cli("backup", "--db", str(db), "--out", str(out), cwd=tmp_path)
    assert one_error_line(result) == "culturebot: " + expected.format(db=db)
    assert not out.parent.exists()  # refused before anything was made
    if content is not None:
        assert db.read_bytes() == content
        assert leftovers(tmp_path) == ["notes.sqlite3"]  # nothing created beside it either


def test_the_configured_database_missing_says_where_it_was_looked_for(tmp_path):
    result = run_cli("backup", "--out", "backup.sqlite3", cwd=tmp_path)
    assert one_error_line(result) == (
        "culturebot: no database at data/culturebot.sqlite3; run it where the bot runs, set "
        "CULTUREBOT_DATABASE_PATH or give --db"
    )


def test_a_sqlite_file_that_is_not_culturebot_s_leaves_no_partial_copy(tmp_path):
    db = tmp_path / "other.sqlite3"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.commit()
    out = tmp_path / "backups" / "backup.sqlite3"
    result = run_cli("backup", "--db", str(db), "--out", str(out), cwd=tmp_path)
    assert one_error_line(result) == (
        f"culturebot: {db} is a SQLite database but not culturebot's (it has no schema_migrations table); "
        "check the path"
    )
    assert leftovers(out.parent) == []  # the partial copy was begun, then removed


def test_a_damaged_database_fails_the_check_and_leaves_no_partial_copy(tmp_path):
    db = migrated(tmp_path)
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("CREATE TABLE filler (n INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("CREATE INDEX filler_text ON filler (text)")
        conn.executemany("INSERT INTO filler (text) VALUES (?)", [(f"row {i} " * 20,) for i in range(3000)])
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    with db.open("r+b") as file:  # garble one page of the filler's, well after the schema's pages
        file.seek((pages - 20) * page_size + 100)
        file.write(b"\xff" * 1000)
    out = tmp_path / "backup.sqlite3"
    result = run_cli("backup", "--db", str(db), "--out", str(out), cwd=tmp_path)
    line = one_error_line(result)
    assert line.startswith(f"culturebot: the copy of {db} fails SQLite's integrity check (")
    assert "no backup was written" in line
    assert not out.exists()
    assert not (tmp_path / "backup.sqlite3.partial").exists()


def test_a_partial_copy_already_there_is_left_alone(tmp_path):
    db = migrated(tmp_path)
    out = tmp_path / "backup.sqlite3"
    partial = tmp_path / "backup.sqlite3.partial"
    partial.write_bytes(b"another backup, still being written")
    result = run_cli("backup", "--db", str(db), "--out", str(out), cwd=tmp_path)
    assert "backup.sqlite3.partial already exists: another backup to" in one_error_line(result)
    assert partial.read_bytes() == b"another backup, still being written"
    assert not out.exists()


def test_the_output_names_where_the_key_is_and_never_its_value(tmp_path):
    db = migrated(tmp_path)
    secret = "correct-horse-battery-staple-4242"
    result = run_cli(
        "backup",
        "--out",
        "backup.sqlite3",
        env={"CULTUREBOT_DATABASE_PATH": str(db), "CULTUREBOT_PSEUDONYM_KEY": secret},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"backed up {db} to backup.sqlite3:" in result.stdout  # the configured database, without --db
    assert "The pseudonymisation key is not in the backup; it is the value of CULTUREBOT_PSEUDONYM_KEY" in (
        result.stdout
    )
    assert secret not in result.stdout + result.stderr

    key_file = tmp_path / "keys" / "pseudonym.key"
    key_file.parent.mkdir()
    key_file.write_text("ab" * 32 + "\n")
    result = run_cli(
        "backup",
        "--db",
        str(db),
        "--out",
        "backup-2.sqlite3",
        env={"CULTUREBOT_PSEUDONYM_KEY_FILE": "keys/pseudonym.key"},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"The pseudonymisation key is not in the backup; it is in the file {key_file}: copy that file" in (
        result.stdout
    )
    assert "ab" * 32 not in result.stdout + result.stderr


def test_a_key_file_that_is_not_there_is_said_so(tmp_path):
    db = migrated(tmp_path)
    result = run_cli("backup", "--db", str(db), "--out", "backup.sqlite3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"it would be in the file {tmp_path / 'data' / 'pseudonym.key'}, which is not there" in result.stdout


def test_out_that_is_a_folder_is_refused(tmp_path):
    db = migrated(tmp_path)
    (tmp_path / "backups").mkdir()
    result = run_cli("backup", "--db", str(db), "--out", "backups", cwd=tmp_path)
    assert one_error_line(result) == "culturebot: backups is a folder; name the backup file to make in it (a new file)"
    assert leftovers(tmp_path / "backups") == []
    assert not (tmp_path / "backups.partial").exists()


def test_a_database_held_locked_is_one_line_saying_to_try_again_with_exit_status_1(tmp_path):
    """It said "run the backup as the bot's user" and exited 78: neither fits a database another process holds."""
    from bot.exit_status import EXIT_FAILED

    db = migrated(tmp_path)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("CREATE TABLE held (x)")  # the exclusive lock is taken at the first write
        result = run_cli("backup", "--db", str(db), "--out", str(tmp_path / "b.sqlite3"), cwd=tmp_path)
    finally:
        holder.close()
    assert result.returncode == EXIT_FAILED and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        tuple(f"culturebot: could not back up {path}: it is in use (" for path in (db, db.resolve()))
    )
    assert line.endswith("try again in a moment")
    assert not (tmp_path / "b.sqlite3").exists()
