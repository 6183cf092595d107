"""A consistent copy of the live database, made while the bot runs: `culturebot backup`.

Copying the file with `cp` while the bot writes can miss the committed rows still in the `-wal` file or copy a page
half-written. This copies through SQLite's online backup API instead, from a read-only connection holding one read
transaction: the copy is the database as one snapshot, with the WAL's committed rows. In WAL mode that reader never
blocks the bot's writes; while it reads, the WAL is only added to (it starts over once the copy is done).

The copy is written beside the target as `<out>.partial` (mode 600: it holds members' data), checked with
`PRAGMA quick_check`, switched to `journal_mode=DELETE` so that it is one self-contained file, then put in place
under the target's name, which must not exist: a backup never replaces a file. A failure removes the partial copy.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bot.storage.sqlite.connection import BUSY_TIMEOUT_MS, in_use
from bot.storage.sqlite.files import FileProblem, database_file_problem

PAGES_PER_STEP = 1024  # pages copied per backup step (4 MiB at the default page size)
PARTIAL_SUFFIX = ".partial"
_SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite's files beside a database


class BackupError(Exception):
    """A backup that cannot be made, as one line saying what, where and how to fix it; `retry`: trying again as it
    is may succeed (the database was in use)."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


class SourceMissing(BackupError):
    """There is no file at the database path."""


@dataclass(frozen=True, slots=True)
class Backup:
    source: Path
    out: Path
    size: int  # bytes
    schema_version: int  # the highest migration applied to the copy


def backup_database(source: Path, out: Path) -> Backup:
    """Copy the SQLite database `source` (possibly in use by the bot) to the new file `out`; see the module's note."""
    _check_source(source)
    _check_out(source, out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise BackupError(f"cannot make the folder {out.parent} for the backup: a file is in the way") from None
    except OSError as error:
        raise BackupError(f"cannot create the folder {out.parent} for the backup: {_problem(error)}") from None
    partial = out.with_name(out.name + PARTIAL_SUFFIX)
    try:
        # O_EXCL: a partial copy is only ever this run's own, so a failure removes nothing it did not make.
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise BackupError(
            f"{partial} already exists: another backup to {out} is running, or one was interrupted; "
            "remove it if none is running"
        ) from None
    except OSError as error:
        raise BackupError(f"cannot write the backup in {out.parent}: {_problem(error)}") from None
    try:
        version = _copy(source, partial)
        _put_in_place(partial, out)
    except BaseException:
        for path in (partial, *(partial.with_name(partial.name + suffix) for suffix in _SIDE_FILES)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise
    return Backup(source, out, out.stat().st_size, version)


def _check_source(path: Path) -> None:
    """`path` is an existing, readable SQLite file (nothing is created or changed for a file that is not one)."""
    problem = database_file_problem(path)
    if problem is None:
        return
    if problem.kind is FileProblem.MISSING:
        raise SourceMissing(f"no database at {path}")
    if problem.kind is FileProblem.FOLDER:
        raise BackupError(f"the database path {path} is a folder; name the database file in it")
    if problem.error is not None:  # denied, or another read error
        raise BackupError(f"cannot read the database {path}: {_problem(problem.error)}")
    if problem.kind is FileProblem.EMPTY:
        raise BackupError(f"{path} is an empty file, not a culturebot database; check the path")
    raise BackupError(f"{path} is not a SQLite database; check the path")


def _check_out(source: Path, out: Path) -> None:
    target = out.resolve()
    database = source.resolve()
    if target == database or (out.exists() and os.path.samefile(out, source)):
        raise BackupError(f"the backup file {out} is the database itself; name a new file for the backup")
    side = next((suffix for suffix in _SIDE_FILES if target == database.with_name(database.name + suffix)), None)
    if side is not None:
        raise BackupError(
            f"the backup file {out} is the database's {side} file, which SQLite uses; name a new file for the backup"
        )
    if out.is_dir():
        raise BackupError(f"{out} is a folder; name the backup file to make in it (a new file)")
    if os.path.lexists(out):
        raise BackupError(f"{out} already exists; a backup never replaces a file: name a new file, or move {out} away")


def _copy(source: Path, partial: Path) -> int:
    """Copy one snapshot of `source` into the empty file `partial`, check it and make it self-contained; the schema
    version of the copy."""
    uri = source.resolve().as_uri() + "?mode=ro"
    try:
        with (
            contextlib.closing(
                sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            ) as reader,
            contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as copy,
        ):
            # One read transaction over every step: the steps copy a single snapshot. Without it each step reads
            # afresh, and any write the bot makes between two steps restarts the copy from the first page, so on a
            # busy bot a large database might never finish.
            reader.execute("BEGIN")
            version = _schema_version(reader, source)
            reader.backup(copy, pages=PAGES_PER_STEP)
            reader.execute("COMMIT")  # ends the read: the bot's WAL can be emptied again
            mode = copy.execute("PRAGMA journal_mode = DELETE").fetchone()
            if mode is None or str(mode[0]).lower() != "delete":
                raise BackupError(f"could not switch the copy {partial} to a single file (journal mode {mode})")
            rows = [str(row[0]) for row in copy.execute("PRAGMA quick_check").fetchall()]
            if rows != ["ok"]:
                # A row can hold several lines, under a heading such as "*** in database main ***".
                problems = [line for row in rows for line in row.splitlines() if line and not line.startswith("***")]
                problems = problems or rows
                raise BackupError(
                    f"the copy of {source} fails SQLite's integrity check ({problems[0]}"
                    f"{f' and {len(problems) - 1} more' if len(problems) > 1 else ''}); the database may be "
                    "damaged, so no backup was written: check it with `sqlite3 FILE 'PRAGMA integrity_check'`"
                )
    except sqlite3.Error as error:
        if in_use(error):
            raise BackupError(
                f"could not back up {source}: it is in use ({error}), by a migration or another backup, say; try "
                "again in a moment",
                retry=True,
            ) from None
        # Reading a WAL database takes its -shm file, which SQLite creates beside it when the bot is not running.
        raise BackupError(
            f"could not back up {source}: {error}; run the backup as the bot's user (who can read the database "
            "and write in its folder)"
        ) from None
    try:
        with partial.open("rb") as file:
            os.fsync(file.fileno())
    except OSError as error:
        raise BackupError(f"could not write the backup {partial}: {_problem(error)}") from None
    return version


def _schema_version(reader: sqlite3.Connection, source: Path) -> int:
    """The highest migration applied (bot/storage/migrations.py records each in `schema_migrations`)."""
    row = reader.execute(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not row or not row[0]:
        raise BackupError(
            f"{source} is a SQLite database but not culturebot's (it has no schema_migrations table); check the path"
        )
    row = reader.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _put_in_place(partial: Path, out: Path) -> None:
    """Give the finished copy the name `out` at once, never replacing a file made there meanwhile."""
    try:
        os.link(partial, out)  # fails if `out` exists, unlike a rename
    except FileExistsError:
        raise BackupError(
            f"{out} was created while the backup was made; a backup never replaces anything: name a new file"
        ) from None
    except OSError:
        # A file system without hard links: a rename, after checking again.
        if os.path.lexists(out):
            raise BackupError(f"{out} was created while the backup was made; name a new file") from None
        try:
            os.rename(partial, out)
        except OSError as error:
            raise BackupError(f"could not name the backup {out}: {_problem(error)}") from None
    else:
        partial.unlink()
    with contextlib.suppress(OSError):  # the new name survives a power cut; not every file system allows this
        directory = os.open(out.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _problem(error: OSError) -> str:
    return error.strerror or str(error)
