"""The SQLite storage backend: every SQL statement culturebot runs lives in this module.

One aiosqlite connection in WAL mode serves the whole bot. Writes run in short explicit
transactions; a method returns only after its transaction committed, so whatever the bot
confirms to a member is already durable.
"""

from __future__ import annotations

import asyncio
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
    NewAnswer,
    Outcome,
    Rating,
    RatingSource,
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
            await conn.execute(
                "INSERT INTO guilds (guild_id, name) VALUES (?, '') ON CONFLICT (guild_id) DO NOTHING",
                (new.guild_id,),
            )
            cursor = await conn.execute(
                "INSERT INTO answers (guild_id, channel_id, question_message_id, asker_hash, question, model) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    new.guild_id,
                    new.channel_id,
                    new.question_message_id,
                    new.asker_hash,
                    new.question,
                    new.model,
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
