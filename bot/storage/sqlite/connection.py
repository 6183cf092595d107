"""The SQLite connection: WAL, foreign keys, a busy timeout, one lock, short explicit transactions."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import aiosqlite

from bot import private_files
from bot.storage.migrations import MIGRATIONS_DIR, Migration, migrate
from bot.storage.records import ConsentChanged
from bot.storage.sqlite.cache import GuildReadCache

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


class SqliteConnection:
    """The connection, its lock and transactions: what every part of the SQLite backend builds on."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._closed = False
        # One connection serves every coroutine: a transaction must not interleave with another
        # coroutine's statements, so all access takes turns.
        self._lock = asyncio.Lock()
        self._wal_wipe_owed = False  # a deletion's WAL wipe a reader kept from finishing: the next purge tries
        self._guild_cache = GuildReadCache()
        # Servers whose `guilds` row is known to exist (rows are never deleted), so the hot path's inserts
        # need not ensure it in a transaction of their own.
        self._known_guilds: set[int] = set()

    @classmethod
    async def open(cls, path: Path) -> Self:
        """Open (creating if needed) the database file with WAL, foreign keys and a busy timeout."""
        if str(path) != ":memory:":
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            create_private(path)
        # isolation_level=None: no implicit transactions; each write method opens its own explicitly.
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # NORMAL is durable across application crashes in WAL mode; only a power loss can drop
            # the last transactions, and FULL would cost an fsync per rating.
            await conn.execute("PRAGMA synchronous = NORMAL")
            # Deleted and purged texts (retention, /privacy forget, lowered consent) are overwritten in the file,
            # not left in free pages. Debian's SQLite does this by default; other builds may not.
            await conn.execute("PRAGMA secure_delete = ON")
        except BaseException:
            await conn.close()
            raise
        if str(path) != ":memory:":
            make_private(path)  # once it is known to be a database: another file is left as it is
        return cls(conn, path)

    async def close(self) -> None:
        """Checkpoint the WAL into the main file and close the connection; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            try:
                await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError as error:
                # Nothing is lost: the WAL stays beside the file and is checkpointed at the next open.
                log.warning("could not checkpoint the database on close: %s", error)
            finally:
                await self._conn.close()

    async def _wipe_wal(self) -> None:
        """After deleting members' texts or feedback: copy the WAL into the main file and empty it. The WAL's older
        frames still hold the deleted rows (secure_delete reaches only the main file), and it is otherwise emptied
        only at close. Best effort: while a reader (a digest worker) holds it, it is owed (`_wal_wipe_owed`) and
        left to the next deletion, the daily retention run (which tries whether it purged anything or not) or the
        close."""
        self._wal_wipe_owed = True  # until it is done: a cancellation or a failure below leaves it owed
        async with self._lock:
            # Without waiting: the busy timeout would hold every other database call (answers, ratings) for
            # seconds behind a digest worker's read.
            try:
                # Inside the try: a cancellation while this is set must still restore the timeout below.
                await self._conn.execute("PRAGMA busy_timeout = 0")
                async with self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
                    row = await cursor.fetchone()
            except sqlite3.OperationalError as error:
                log.warning("could not empty the database's WAL after a deletion: %s", error)
                return
            finally:
                await self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if row is not None and row[0]:
            log.info("the database's WAL could not be emptied after a deletion (a reader held it); tried again later")
        else:
            self._wal_wipe_owed = False

    async def migrate(self, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
        async with self._lock:
            return await migrate(self._conn, directory)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            # BEGIN inside the try: a task cancelled while awaiting it (the answer pipeline cancels its progress
            # saver at every answer's end) cancels the wait, not the statement, which the database thread still
            # runs. The rollback is queued behind it; left out, the one shared connection stayed inside that
            # transaction, every later write "committed" only within it and was lost at the next stop.
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
            except BaseException:
                await self._conn.rollback()  # nothing to undo when BEGIN itself failed (busy): sqlite3 does nothing
                raise
            await self._conn.commit()

    async def _fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def _fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
        # One trip to the database thread (execute, fetch and close together): reads are on the hot path.
        async with self._lock:
            return list(await self._conn.execute_fetchall(sql, params))

    async def _write_one(self, sql: str, params: tuple[Any, ...]) -> None:
        """A single write statement in one trip to the database thread (autocommit: committed on return).

        Explicit transactions cost three trips (BEGIN, the statement, COMMIT); each trip wakes the
        database thread and the event loop, which a busy bot feels.
        """
        async with self._lock:
            await self._conn.execute_fetchall(sql, params)

    async def _insert_one(self, sql: str, params: tuple[Any, ...]) -> int:
        """A single INSERT in one trip to the database thread; the new row's id."""
        async with self._lock:
            row = await self._conn.execute_insert(sql, params)
        assert row is not None
        return int(row[0])

    async def _ensure_guild_known(self, guild_id: int) -> None:
        """Make sure the server's `guilds` row exists, at most one trip per server and process."""
        if guild_id in self._known_guilds:
            return
        async with self._lock:
            await ensure_guild_row(self._conn, guild_id)
        self._known_guilds.add(guild_id)

    async def _require_consent(self, answer_id: int, member_hash: str, version: str, levels: tuple[str, ...]) -> None:
        """Raise `ConsentChanged` unless the member's consent in the answer's server is to `version` at `levels`."""
        row = await self._fetchone("SELECT " + consent_covers(levels), (answer_id, member_hash, version))
        if row is None or not row[0]:
            raise ConsentChanged(f"the member's consent no longer covers this (answer {answer_id})")

    async def _execute_one(self, sql: str, params: tuple[Any, ...]) -> int:
        """A single write statement; in autocommit mode it is its own transaction, committed on return."""
        async with self._lock:
            cursor = await self._conn.execute(sql, params)
            count = cursor.rowcount
            await cursor.close()
            return count


def create_private(database: Path) -> None:
    """Create a missing database file readable and writable by this user only: SQLite gives its -wal and -shm files
    the same mode. It holds members' questions and comments."""
    with suppress(OSError):  # there already; or opening it says what is wrong
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_private(database: Path) -> None:
    """Make a database (and its -wal and -shm files) open to other users, as an older culturebot left it under a
    loose umask, readable and writable by its owner only, with a warning."""
    files = (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm"))
    private_files.make_private(files, database, "it holds members' questions and comments")


# A write's condition that the member's consent in the answer's server is to `consent_version` and at one of
# the given levels. Part of the writing statement, so that a decline or withdrawal handled at the same moment
# is never overtaken by a rating or comment checked before it. Parameters: answer id, member hash, version.
def consent_covers(levels: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{level}'" for level in levels)
    return (
        "EXISTS (SELECT 1 FROM consents c WHERE c.guild_id = (SELECT guild_id FROM answers WHERE answer_id = ?) "
        f"AND c.member_hash = ? AND c.consent_version = ? AND c.level IN ({listed}))"
    )


async def fetch_one(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> aiosqlite.Row | None:
    async with conn.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def fetch_all(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> list[aiosqlite.Row]:
    async with conn.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


async def ensure_guild_row(conn: aiosqlite.Connection, guild_id: int) -> None:
    await conn.execute(
        "INSERT INTO guilds (guild_id, name) VALUES (?, '') ON CONFLICT (guild_id) DO NOTHING", (guild_id,)
    )


async def write_audit(conn: aiosqlite.Connection, guild_id: int, actor_id: int, action: str, detail: str) -> None:
    await conn.execute(
        "INSERT INTO audit_log (guild_id, actor_id, action, detail) VALUES (?, ?, ?, ?)",
        (guild_id, actor_id, action, detail),
    )


def in_use(error: sqlite3.Error) -> bool:
    """Whether SQLite failed because another connection holds a lock on the file (a running migration, a backup,
    a write that outlasted the busy timeout): trying again later may work."""
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def needs_writable_folder(error: sqlite3.Error) -> bool:
    """Whether SQLite failed for want of writing beside the database: reading one in WAL mode creates its -shm (and
    -wal) file in the database's folder."""
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and ("readonly" in text or "unable to open" in text)


def sqlite_timestamp(moment: datetime) -> str:
    """A UTC time in the format the schema's defaults use, so text comparison orders correctly."""
    utc = moment.astimezone(UTC)
    # The year padded by hand: strftime's %Y gives "200" for the year 200 on glibc, which sorts after "2026".
    return f"{utc.year:04d}-" + utc.strftime("%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
