"""The SQLite storage backend: every SQL statement culturebot runs lives in this module.

One aiosqlite connection in WAL mode serves the whole bot. Writes run in short explicit
transactions; a method returns only after its transaction committed, so whatever the bot
confirms to a member is already durable.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage.migrations import MIGRATIONS_DIR, Migration, migrate
from bot.storage.records import (
    AnswerRecord,
    AnswerResult,
    AuditEntry,
    GuildSettings,
    NewAnswer,
    NewScopeVersion,
    Outcome,
    Rating,
    RatingSource,
    ScopeSource,
    ScopeVersion,
)

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


class SqliteStorage:
    """culturebot's data, in one SQLite file."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._closed = False
        # One connection serves every coroutine: a transaction must not interleave with another
        # coroutine's statements, so all access takes turns.
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> SqliteStorage:
        """Open (creating if needed) the database file with WAL, foreign keys and a busy timeout."""
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; each write method opens its own explicitly.
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # NORMAL is durable across application crashes in WAL mode; only a power loss can drop
            # the last transactions, and FULL would cost an fsync per rating.
            await conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            await conn.close()
            raise
        return cls(conn, path)

    async def close(self) -> None:
        """Checkpoint the WAL into the main file and close the connection; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            try:
                await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                await self._conn.close()

    async def migrate(self, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
        async with self._lock:
            return await migrate(self._conn, directory)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.rollback()
                raise
            await self._conn.commit()

    async def _fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
        async with self._lock, self._conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def _fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
        async with self._lock, self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    # Bot state

    async def get_state(self, key: str) -> str | None:
        row = await self._fetchone("SELECT value FROM bot_state WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def set_state(self, key: str, value: str) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                "value = excluded.value, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (key, value),
            )

    # Servers

    async def ensure_guild(self, guild_id: int, name: str) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO guilds (guild_id, name) VALUES (?, ?) "
                "ON CONFLICT (guild_id) DO UPDATE SET name = excluded.name",
                (guild_id, name),
            )

    # Answers

    async def start_answer(self, new: NewAnswer) -> int:
        """Record an answer as it starts streaming; returns its id."""
        async with self._transaction() as conn:
            await _ensure_guild_row(conn, new.guild_id)
            cursor = await conn.execute(
                "INSERT INTO answers (guild_id, channel_id, question_message_id, asker_hash, question, model, "
                "scope_version_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    new.guild_id,
                    new.channel_id,
                    new.question_message_id,
                    new.asker_hash,
                    new.question,
                    new.model,
                    new.scope_version_id,
                ),
            )
            answer_id = cursor.lastrowid
        assert answer_id is not None
        return answer_id

    async def add_answer_message(self, answer_id: int, message_id: int, channel_id: int, part: int) -> None:
        """Link a Discord message to the answer it carries (part 0 is the first message)."""
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO answer_messages (message_id, answer_id, channel_id, part) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (message_id) DO NOTHING",
                (message_id, answer_id, channel_id, part),
            )

    async def save_answer_progress(self, answer_id: int, text: str) -> None:
        """Keep the text streamed so far, so a crash mid-answer loses at most the last interval."""
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE answers SET answer = ? WHERE answer_id = ? AND outcome = 'streaming'",
                (text, answer_id),
            )

    async def finish_answer(self, answer_id: int, result: AnswerResult) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE answers SET answer = ?, outcome = ?, error = ?, tokens_in = ?, tokens_out = ?, "
                "tokens_estimated = ?, ttft_ms = ?, total_ms = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                "WHERE answer_id = ?",
                (
                    result.answer,
                    result.outcome.value,
                    result.error,
                    result.tokens_in,
                    result.tokens_out,
                    int(result.tokens_estimated),
                    result.ttft_ms,
                    result.total_ms,
                    answer_id,
                ),
            )

    async def close_interrupted_answers(self) -> int:
        """Mark answers left 'streaming' by a crash as incomplete; returns how many there were."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "UPDATE answers SET outcome = 'incomplete', error = 'interrupted by a restart', "
                "finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE outcome = 'streaming'"
            )
            return cursor.rowcount

    async def get_answer(self, answer_id: int) -> AnswerRecord | None:
        row = await self._fetchone(
            "SELECT answer_id, guild_id, channel_id, asker_hash, question, answer, model, outcome, error, "
            "tokens_in, tokens_out, ttft_ms, total_ms FROM answers WHERE answer_id = ?",
            (answer_id,),
        )
        return None if row is None else _answer_record(row)

    async def answer_for_message(self, message_id: int) -> AnswerRecord | None:
        """The answer a Discord message belongs to, if it is one of the bot's answers."""
        row = await self._fetchone(
            "SELECT a.answer_id, a.guild_id, a.channel_id, a.asker_hash, a.question, a.answer, a.model, "
            "a.outcome, a.error, a.tokens_in, a.tokens_out, a.ttft_ms, a.total_ms "
            "FROM answer_messages m JOIN answers a USING (answer_id) WHERE m.message_id = ?",
            (message_id,),
        )
        return None if row is None else _answer_record(row)

    async def answer_message_ids(self, answer_id: int) -> list[int]:
        rows = await self._fetchall(
            "SELECT message_id FROM answer_messages WHERE answer_id = ? ORDER BY part", (answer_id,)
        )
        return [int(row[0]) for row in rows]

    # Ratings

    async def put_rating(self, rating: Rating) -> None:
        """Insert or replace the member's rating of an answer (one per member per answer)."""
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO ratings (answer_id, rater_hash, value, scale_size, is_asker, source) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (answer_id, rater_hash) DO UPDATE SET "
                "value = excluded.value, scale_size = excluded.scale_size, source = excluded.source, "
                "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                "WHERE value != excluded.value OR source != excluded.source",
                (
                    rating.answer_id,
                    rating.rater_hash,
                    rating.value,
                    rating.scale_size,
                    int(rating.is_asker),
                    rating.source.value,
                ),
            )

    async def delete_rating(self, answer_id: int, rater_hash: str, value: int | None = None) -> bool:
        """Delete the member's rating; with `value`, only if it still has that value. True if deleted."""
        async with self._transaction() as conn:
            if value is None:
                cursor = await conn.execute(
                    "DELETE FROM ratings WHERE answer_id = ? AND rater_hash = ?", (answer_id, rater_hash)
                )
            else:
                cursor = await conn.execute(
                    "DELETE FROM ratings WHERE answer_id = ? AND rater_hash = ? AND value = ?",
                    (answer_id, rater_hash, value),
                )
            return cursor.rowcount > 0

    async def ratings_for_answer(self, answer_id: int) -> list[Rating]:
        rows = await self._fetchall(
            "SELECT answer_id, rater_hash, value, scale_size, is_asker, source FROM ratings "
            "WHERE answer_id = ? ORDER BY created_at, rater_hash",
            (answer_id,),
        )
        return [
            Rating(
                answer_id=int(row[0]),
                rater_hash=str(row[1]),
                value=int(row[2]),
                scale_size=int(row[3]),
                is_asker=bool(row[4]),
                source=RatingSource(row[5]),
            )
            for row in rows
        ]

    # Scopes

    async def add_scope_version(self, new: NewScopeVersion) -> ScopeVersion:
        """Store a new immutable version, make it the server's current scope, and audit the change.

        The version number is taken inside the write transaction, so two moderators changing the
        scope at the same moment get consecutive numbers and neither version is lost.
        """
        digest = hashlib.sha256(new.content.encode()).hexdigest()
        async with self._transaction() as conn:
            await _ensure_guild_row(conn, new.guild_id)
            cursor = await conn.execute(
                "INSERT INTO scope_versions (guild_id, number, scope_id, title, content, content_sha256, source, "
                "change_summary, author_id) SELECT ?, coalesce(max(number), 0) + 1, ?, ?, ?, ?, ?, ?, ? "
                "FROM scope_versions WHERE guild_id = ?",
                (
                    new.guild_id,
                    new.scope_id,
                    new.title,
                    new.content,
                    digest,
                    new.source.value,
                    new.change_summary,
                    new.author_id,
                    new.guild_id,
                ),
            )
            version_id = cursor.lastrowid
            await conn.execute(
                "INSERT INTO guild_settings (guild_id, current_scope_id) VALUES (?, ?) ON CONFLICT (guild_id) "
                "DO UPDATE SET current_scope_id = excluded.current_scope_id, "
                "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (new.guild_id, version_id),
            )
            async with conn.execute(_SCOPE_COLUMNS + " WHERE version_id = ?", (version_id,)) as rows:
                row = await rows.fetchone()
            assert row is not None
            version = _scope_version(row)
            await _audit(
                conn,
                new.guild_id,
                new.author_id,
                f"scope.{new.source.value}",
                f"version {version.number} ({version.scope_id}): {new.change_summary}",
            )
        return version

    async def current_scope(self, guild_id: int) -> ScopeVersion | None:
        row = await self._fetchone(
            _SCOPE_COLUMNS + " WHERE version_id = (SELECT current_scope_id FROM guild_settings WHERE guild_id = ?)",
            (guild_id,),
        )
        return None if row is None else _scope_version(row)

    async def scope_version(self, guild_id: int, number: int) -> ScopeVersion | None:
        row = await self._fetchone(_SCOPE_COLUMNS + " WHERE guild_id = ? AND number = ?", (guild_id, number))
        return None if row is None else _scope_version(row)

    async def scope_history(self, guild_id: int, limit: int = 25) -> list[ScopeVersion]:
        """The server's scope versions, newest first."""
        rows = await self._fetchall(
            _SCOPE_COLUMNS + " WHERE guild_id = ? ORDER BY number DESC LIMIT ?", (guild_id, limit)
        )
        return [_scope_version(row) for row in rows]

    async def clear_scope(self, guild_id: int, actor_id: int) -> bool:
        """Unset the current scope (versions are kept); False if none was set."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "UPDATE guild_settings SET current_scope_id = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                "WHERE guild_id = ? AND current_scope_id IS NOT NULL",
                (guild_id,),
            )
            if cursor.rowcount == 0:
                return False
            await _audit(conn, guild_id, actor_id, "scope.clear", "the server has no declared scope now")
            return True

    # Per-server settings and the audit log

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        row = await self._fetchone(
            "SELECT guild_id, current_scope_id, allow_unscoped, log_channel_id FROM guild_settings WHERE guild_id = ?",
            (guild_id,),
        )
        if row is None:
            return GuildSettings(guild_id=guild_id)
        return GuildSettings(
            guild_id=int(row[0]), current_scope_id=row[1], allow_unscoped=bool(row[2]), log_channel_id=row[3]
        )

    async def update_guild_settings(
        self, guild_id: int, actor_id: int, changes: dict[str, Any], *, detail: str
    ) -> GuildSettings:
        """Change settings columns (allow_unscoped, log_channel_id) and audit it in one transaction."""
        unknown = set(changes) - _GUILD_SETTING_COLUMNS
        if unknown:
            raise ValueError(f"not a server setting: {', '.join(sorted(unknown))}")
        async with self._transaction() as conn:
            await _ensure_guild_row(conn, guild_id)
            await conn.execute("INSERT INTO guild_settings (guild_id) VALUES (?) ON CONFLICT DO NOTHING", (guild_id,))
            if changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)
                await conn.execute(
                    f"UPDATE guild_settings SET {assignments}, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                    "WHERE guild_id = ?",
                    (*changes.values(), guild_id),
                )
            await _audit(conn, guild_id, actor_id, "settings.update", detail)
        return await self.guild_settings(guild_id)

    async def add_audit(self, guild_id: int, actor_id: int, action: str, detail: str = "") -> None:
        async with self._transaction() as conn:
            await _ensure_guild_row(conn, guild_id)
            await _audit(conn, guild_id, actor_id, action, detail)

    async def audit_entries(self, guild_id: int, limit: int = 50) -> list[AuditEntry]:
        """The server's audit log, newest first."""
        rows = await self._fetchall(
            "SELECT guild_id, actor_id, action, detail, created_at FROM audit_log WHERE guild_id = ? "
            "ORDER BY entry_id DESC LIMIT ?",
            (guild_id, limit),
        )
        return [AuditEntry(int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]


_GUILD_SETTING_COLUMNS = {"allow_unscoped", "log_channel_id"}

_SCOPE_COLUMNS = (
    "SELECT version_id, guild_id, number, scope_id, title, content, content_sha256, source, change_summary, "
    "author_id, created_at FROM scope_versions"
)


async def _ensure_guild_row(conn: aiosqlite.Connection, guild_id: int) -> None:
    await conn.execute(
        "INSERT INTO guilds (guild_id, name) VALUES (?, '') ON CONFLICT (guild_id) DO NOTHING", (guild_id,)
    )


async def _audit(conn: aiosqlite.Connection, guild_id: int, actor_id: int, action: str, detail: str) -> None:
    await conn.execute(
        "INSERT INTO audit_log (guild_id, actor_id, action, detail) VALUES (?, ?, ?, ?)",
        (guild_id, actor_id, action, detail),
    )


def _scope_version(row: aiosqlite.Row) -> ScopeVersion:
    return ScopeVersion(
        version_id=int(row[0]),
        guild_id=int(row[1]),
        number=int(row[2]),
        scope_id=str(row[3]),
        title=str(row[4]),
        content=str(row[5]),
        content_sha256=str(row[6]),
        source=ScopeSource(row[7]),
        change_summary=str(row[8]),
        author_id=int(row[9]),
        created_at=str(row[10]),
    )


def _answer_record(row: aiosqlite.Row) -> AnswerRecord:
    return AnswerRecord(
        answer_id=int(row[0]),
        guild_id=int(row[1]),
        channel_id=int(row[2]),
        asker_hash=str(row[3]),
        question=str(row[4]),
        answer=str(row[5]),
        model=str(row[6]),
        outcome=Outcome(row[7]),
        error=row[8],
        tokens_in=row[9],
        tokens_out=row[10],
        ttft_ms=row[11],
        total_ms=row[12],
    )
