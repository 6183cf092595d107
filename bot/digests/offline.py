"""`culturebot digest`: the same report and files as the scheduled digest, from a database file, no Discord.

The database is only read: it is opened read-only (as the digest workers open it), its schema is checked against
the migrations this code knows instead of being migrated, and nothing is written to it. Every problem with the
arguments is an `OfflineDigestError` whose message is one line naming the argument and what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sqlite3
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosqlite

from bot.digests.report import DigestFiles, write_digest_files
from bot.digests.rows import DigestRows
from bot.digests.schedule import Period, parse_timezone
from bot.digests.service import bundle, day_basis, period_rows
from bot.storage import SqliteStorage, sqlite_timestamp
from bot.storage.migrations import MigrationError, check_history, load_migrations
from bot.storage.sqlite.connection import BUSY_TIMEOUT_MS, in_use, needs_writable_folder
from bot.storage.sqlite.files import DatabaseFileProblem, FileProblem, database_file_problem

SERVERS_LISTED = 10  # servers named when --guild is not in the database
NAME_WIDTH = 40  # characters of a server's name shown in that list


class OfflineDigestError(Exception):
    """A problem with the command's arguments or the database file, as one line; `retry`: running the command again
    as it is may succeed (the database was in use)."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True, slots=True)
class OfflineDigest:
    files: DigestFiles
    written: list[Path]  # every file written into the folder, sorted
    feedback_before: str  # ratings and comments given before this moment (sqlite_timestamp) are counted


def day_period(first: date, last: date, timezone: str, *, saved: bool = False) -> Period:
    """Whole days [first, last] in a time zone (an IANA name, read as `parse_timezone` reads it: a UserFacingError
    when it is none; `saved` as there), as a UTC period."""
    zone = ZoneInfo(parse_timezone(timezone, saved=saved))
    start = datetime.combine(first, datetime.min.time(), zone)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
    return Period(start.astimezone(UTC), end.astimezone(UTC))


async def offline_digest(
    db: Path,
    guild_id: int,
    period: Period,
    out: Path,
    *,
    feedback_before: datetime | None = None,
    timezone: str = "UTC",
    compare_from: datetime | None = None,
) -> OfflineDigest:
    """Write the digest of `guild_id` for `period` into `out`, reading `db` without changing it; fit over time
    counts days in `timezone` (the one the period was read in).

    The period's answers come with the ratings, reasons and comments given before `feedback_before` (by default
    now: feedback given after the period ended counts, as it stands now); the previous period, which the digest
    compares with (from `compare_from`, by default as `period_rows` has it), is read up to the same moment.
    """
    moment = feedback_before or datetime.now(UTC)
    try:
        # Checked before anything is read: the previous period, compared with, starts a period earlier.
        sqlite_timestamp(compare_from or period.start - (period.end - period.start))
    except OverflowError:
        earliest = (
            "--compare-from"
            if compare_from is not None
            else "the comparison period, as long as this one before --from,"
        )
        raise OfflineDigestError(
            f"--from is too early: {earliest} would begin before the year 1; give a later --from or a shorter "
            "period, or name where the comparison starts with --compare-from"
        ) from None
    uri = await asyncio.to_thread(_check_database_file, db)
    await asyncio.to_thread(_check_out, out)
    current, previous = await _read_rows(db, uri, guild_id, period, moment, compare_from)
    try:
        files, written = await asyncio.to_thread(_write, current, previous, out, timezone)
    except OSError as error:
        raise OfflineDigestError(f"--out {out}: could not write {_os_problem(error)}") from None
    return OfflineDigest(files, written, sqlite_timestamp(moment))


def _write(current: DigestRows, previous: DigestRows, out: Path, timezone: str) -> tuple[DigestFiles, list[Path]]:
    files = write_digest_files(current, previous, out, timezone=timezone)
    attached = bundle(files, out)
    return files, written_files(files, attached)


def written_files(files: DigestFiles, attached: list[Path]) -> list[Path]:
    """Every file the digest wrote: each path in `files` (its reports, chart, JSON and exports) and the attached
    bundle (which adds data.zip), as they exist on disk."""
    paths = set(attached)
    for field in dataclasses.fields(files):
        value = getattr(files, field.name)
        if isinstance(value, Path):
            paths.add(value)
        elif isinstance(value, list):
            paths.update(item for item in value if isinstance(item, Path))
    return sorted(path for path in paths if path.is_file())


def _check_database_file(db: Path) -> str:
    """The read-only URI of `db`, an existing, readable SQLite file (nothing is created or changed for a file
    that is not one)."""
    problem = database_file_problem(db)
    if problem is not None:
        raise OfflineDigestError(_database_file_message(db, problem))
    return db.resolve().as_uri() + "?mode=ro"  # as read_digest_periods opens it for the digest workers


def _database_file_message(db: Path, problem: DatabaseFileProblem) -> str:
    if problem.kind is FileProblem.MISSING:
        return f"no database at {db}"
    if problem.kind is FileProblem.FOLDER:
        return f"--db {db} is a folder; name the database file in it"
    if problem.kind is FileProblem.DENIED:
        return f"--db {db}: permission denied; run as a user who can read it, or read a copy of it"
    if problem.error is not None:
        return f"--db {db}: cannot read it ({_os_problem(problem.error)})"
    if problem.kind is FileProblem.EMPTY:
        return f"--db {db} is an empty file, not a culturebot database; check the path"
    return f"--db {db} is not a SQLite database; check the path"


def _check_out(out: Path) -> None:
    """`out` is a folder, or can be made one: checked before the database is read, created only after."""
    if (problem := out_folder_problem(out)) is not None:
        raise OfflineDigestError(problem)


def out_folder_problem(out: Path) -> str | None:
    """What stops files being written into the folder `out` (created if missing), named as the --out option that
    gave it (here and in the sandbox); None if nothing does."""
    if out.exists():
        if not out.is_dir():
            return f"--out {out} is a file; name a folder (it is created if missing)"
        if not os.access(out, os.W_OK | os.X_OK):
            return f"--out {out}: permission denied; name a folder you can write in"
        return None
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"--out {out}: {parent} is a file, so no folder can be made there; name another folder"
            if not os.access(parent, os.W_OK | os.X_OK):
                return f"--out {out}: permission denied to create it in {parent}; name a folder you can write in"
            return None
    return None


async def server_timezone(db: Path, guild_id: int) -> str:
    """The server's digest time zone in `db` (as its digests count days: `day_basis`), UTC when none is set;
    `db` and the server are checked as `offline_digest` checks them, with the same messages."""
    uri = await asyncio.to_thread(_check_database_file, db)
    async with _server_storage(db, uri, guild_id) as storage:
        settings = await storage.guild_settings(guild_id)
    return day_basis(settings)


async def _read_rows(
    db: Path, uri: str, guild_id: int, period: Period, feedback_before: datetime, compare_from: datetime | None
) -> tuple[DigestRows, DigestRows]:
    """The period's rows and the previous period's, from one read-only snapshot, after checking the schema and
    the server."""
    async with _server_storage(db, uri, guild_id) as storage:
        return await period_rows(storage, guild_id, period, feedback_before, compare_from=compare_from)


@contextlib.asynccontextmanager
async def _server_storage(db: Path, uri: str, guild_id: int) -> AsyncIterator[SqliteStorage]:
    """The storage on `db`'s read-only URI, in one read transaction (one snapshot), once its schema and the server
    are checked; a database error while it is used is an OfflineDigestError."""
    try:
        conn = await aiosqlite.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as error:
        raise OfflineDigestError(f"--db {db}: cannot open it read-only ({error}); check it and its folder") from None
    try:
        await conn.execute("BEGIN")
        await _check_schema(conn, db)
        await _check_guild(conn, db, guild_id)
        yield SqliteStorage(conn, db)  # only its read methods are used, on this read-only connection
    except sqlite3.DatabaseError as error:
        raise _unreadable(db, error) from None
    finally:
        await conn.close()  # a read transaction: nothing to commit or roll back on the file


def _unreadable(db: Path, error: sqlite3.DatabaseError) -> OfflineDigestError:
    """The error to report when reading `db` failed, with what to do about its cause."""
    if in_use(error):
        return OfflineDigestError(
            f"--db {db} is in use ({error}): another process holds a lock on it, such as a migration or a backup; "
            "try again in a moment",
            retry=True,
        )
    if needs_writable_folder(error):
        return OfflineDigestError(
            f"--db {db}: cannot read it ({error}); reading a database in WAL mode creates its -shm file beside it, "
            "so its folder must be writable by this user: run as the bot's user, or read a copy made with "
            "`culturebot backup`"
        )
    return OfflineDigestError(f"--db {db}: cannot read it ({error}); check that it is a culturebot database")


async def _check_schema(conn: aiosqlite.Connection, db: Path) -> None:
    """The database's applied migrations are exactly the ones this code knows (without applying any)."""
    async with conn.execute(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'"
    ) as cursor:
        row = await cursor.fetchone()
    if row is None or not row[0]:
        raise OfflineDigestError(
            f"--db {db} is a SQLite database but not culturebot's (it has no schema_migrations table); check the "
            "path: the bot's database is CULTUREBOT_DATABASE_PATH (data/culturebot.sqlite3 by default)"
        )
    async with conn.execute("SELECT version, checksum FROM schema_migrations") as cursor:
        applied = {int(version): str(checksum) for version, checksum in await cursor.fetchall()}
    migrations = load_migrations()
    try:
        pending = check_history(applied, migrations)
    except MigrationError as error:
        raise OfflineDigestError(f"--db {db}: {error}") from None
    if pending:
        raise OfflineDigestError(
            f"--db {db} is at schema version {max(applied, default=0)}, older than this culturebot "
            f"({len(migrations)}); run `culturebot migrate --db {db}` (or start the bot once) to migrate it, "
            "or use the culturebot version that wrote it"
        )


async def _check_guild(conn: aiosqlite.Connection, db: Path, guild_id: int) -> None:
    async with conn.execute("SELECT 1 FROM guilds WHERE guild_id = ?", (guild_id,)) as cursor:
        if await cursor.fetchone() is not None:
            return
    async with conn.execute("SELECT count(*) FROM guilds") as cursor:
        row = await cursor.fetchone()
    count = int(row[0]) if row else 0
    if not count:
        raise OfflineDigestError(f"no server {guild_id} in {db}: it has no servers yet")
    async with conn.execute("SELECT guild_id, name FROM guilds ORDER BY guild_id LIMIT ?", (SERVERS_LISTED,)) as cursor:
        servers = ", ".join(f"{gid} ({_one_line(str(name))})" for gid, name in await cursor.fetchall())
    if count == 1:
        which = "the id of its one server"
    elif count <= SERVERS_LISTED:
        which = f"one of its {count} servers"
    else:
        which = f"one of the first {SERVERS_LISTED} of its {count} servers"
    raise OfflineDigestError(f"no server {guild_id} in {db}; give --guild {which}: {servers}")


def _one_line(name: str) -> str:
    """A server's name for a one-line message: no control characters or line breaks, at most NAME_WIDTH long."""
    text = " ".join("".join(c if unicodedata.category(c)[0] != "C" else " " for c in name).split())
    if not text:
        return "no name"
    return text if len(text) <= NAME_WIDTH else text[: NAME_WIDTH - 1] + "…"


def _os_problem(error: OSError) -> str:
    """'PATH: reason' (or the reason) for an OSError, without Python's '[Errno N]' prefix."""
    reason = error.strerror or str(error)
    return f"{error.filename}: {reason.lower()}" if error.filename else reason.lower()
