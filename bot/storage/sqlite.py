"""The SQLite storage backend: every SQL statement culturebot runs lives in this module.

One aiosqlite connection in WAL mode serves the whole bot. Writes run in short explicit
transactions; a method returns only after its transaction committed, so whatever the bot
confirms to a member is already durable.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.digests.rows import AnswerRow, AuditRow, CommentRow, DigestRows, RatingRow, ReasonRow
from bot.storage.migrations import MIGRATIONS_DIR, Migration, migrate
from bot.storage.records import (
    AnswerRecord,
    AnswerResult,
    AuditEntry,
    Consent,
    ConsentLevel,
    DigestRecord,
    DigestStatus,
    GuildSettings,
    NewAnswer,
    NewComment,
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
                "scope_version_id, parent_answer_id, cues, sections, prompt_sha256, ephemeral) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new.guild_id,
                    new.channel_id,
                    new.question_message_id,
                    new.asker_hash,
                    new.question,
                    new.model,
                    new.scope_version_id,
                    new.parent_answer_id,
                    None if new.cues is None else json.dumps(new.cues, ensure_ascii=False),
                    json.dumps(list(new.sections), ensure_ascii=False),
                    new.prompt_sha256,
                    int(new.ephemeral),
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

    async def record_refused(self, new: NewAnswer, reason: str) -> int:
        """Record a question the limits refused (the record says why; no model was called)."""
        answer_id = await self.start_answer(new)
        await self.finish_answer(answer_id, AnswerResult(answer="", outcome=Outcome.REFUSED, error=reason))
        return answer_id

    async def tokens_used_since(self, guild_id: int, since_iso: str) -> int:
        """Tokens in and out of the server's answers since a moment (for the daily budget)."""
        row = await self._fetchone(
            "SELECT coalesce(sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)), 0) FROM answers "
            "WHERE guild_id = ? AND created_at >= ?",
            (guild_id, since_iso),
        )
        return int(row[0]) if row else 0

    async def conversation(self, answer_id: int, limit: int = 20) -> list[tuple[str, str]]:
        """(question, answer) pairs of the reply chain ending at `answer_id`, oldest first."""
        rows = await self._fetchall(
            "WITH RECURSIVE chain(answer_id, parent, depth) AS ("
            " SELECT answer_id, parent_answer_id, 0 FROM answers WHERE answer_id = ?"
            " UNION ALL SELECT a.answer_id, a.parent_answer_id, chain.depth + 1 FROM answers a"
            " JOIN chain ON a.answer_id = chain.parent WHERE chain.depth < ?)"
            " SELECT a.question, a.answer FROM chain JOIN answers a USING (answer_id) ORDER BY chain.depth DESC",
            (answer_id, limit - 1),
        )
        return [(str(row[0]), str(row[1])) for row in rows]

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

    async def latest_answer_in(self, channel_id: int) -> AnswerRecord | None:
        """The newest finished answer in a channel or thread (a thread's conversation so far)."""
        row = await self._fetchone(
            "SELECT answer_id, guild_id, channel_id, asker_hash, question, answer, model, outcome, error, "
            "tokens_in, tokens_out, ttft_ms, total_ms FROM answers WHERE channel_id = ? AND outcome IN "
            "('ok', 'incomplete') ORDER BY answer_id DESC LIMIT 1",
            (channel_id,),
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
            "SELECT guild_id, current_scope_id, allow_unscoped, log_channel_id, research_contact, retention_days, "
            "consent_note, consent_revision, rating_scale, rating_controls, reason_tags, answer_channels, "
            "cooldown_seconds, daily_token_budget, instructions, answer_language, digest_enabled, digest_cron, "
            "digest_timezone, digest_channel_id, research_role_id, answer_in_threads FROM guild_settings "
            "WHERE guild_id = ?",
            (guild_id,),
        )
        if row is None:
            return GuildSettings(guild_id=guild_id)
        return GuildSettings(
            guild_id=int(row[0]),
            current_scope_id=row[1],
            allow_unscoped=bool(row[2]),
            log_channel_id=row[3],
            research_contact=row[4],
            retention_days=int(row[5]),
            consent_note=row[6],
            consent_revision=int(row[7]),
            rating_scale=str(row[8]),
            rating_controls=str(row[9]),
            reason_tags=tuple(json.loads(row[10])),
            answer_channels=tuple(int(channel) for channel in json.loads(row[11])),
            cooldown_seconds=int(row[12]),
            daily_token_budget=int(row[13]),
            instructions=row[14],
            answer_language=row[15],
            digest_enabled=bool(row[16]),
            digest_cron=str(row[17]),
            digest_timezone=str(row[18]),
            digest_channel_id=row[19],
            research_role_id=row[20],
            answer_in_threads=bool(row[21]),
        )

    async def update_guild_settings(
        self, guild_id: int, actor_id: int, changes: dict[str, Any], *, detail: str
    ) -> GuildSettings:
        """Change settings columns and audit it in one transaction; `reason_tags` takes a list."""
        for column in ("reason_tags", "answer_channels"):
            if column in changes:
                changes = {**changes, column: json.dumps(list(changes[column]), ensure_ascii=False)}
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

    # Consent

    async def consent(self, guild_id: int, member_hash: str) -> Consent | None:
        row = await self._fetchone(
            "SELECT guild_id, member_hash, level, consent_version, dm_opt_in, decided_at FROM consents "
            "WHERE guild_id = ? AND member_hash = ?",
            (guild_id, member_hash),
        )
        if row is None:
            return None
        return Consent(int(row[0]), str(row[1]), ConsentLevel(row[2]), str(row[3]), bool(row[4]), str(row[5]))

    async def set_consent(
        self, guild_id: int, member_hash: str, level: ConsentLevel, consent_version: str, *, dm_opt_in: bool = False
    ) -> None:
        """Record a member's decision (and keep it in the history of decisions)."""
        async with self._transaction() as conn:
            await _ensure_guild_row(conn, guild_id)
            await conn.execute(
                "INSERT INTO consents (guild_id, member_hash, level, consent_version, dm_opt_in) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (guild_id, member_hash) DO UPDATE SET level = excluded.level, "
                "consent_version = excluded.consent_version, dm_opt_in = excluded.dm_opt_in, "
                "decided_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (guild_id, member_hash, level.value, consent_version, int(dm_opt_in)),
            )
            await conn.execute(
                "INSERT INTO consent_events (guild_id, member_hash, level, consent_version) VALUES (?, ?, ?, ?)",
                (guild_id, member_hash, level.value, consent_version),
            )
            if not level.allows_comments:
                # Withdrawing consent for comments removes the comments already given in this server.
                await conn.execute(
                    "DELETE FROM comments WHERE rater_hash = ? AND answer_id IN "
                    "(SELECT answer_id FROM answers WHERE guild_id = ?)",
                    (member_hash, guild_id),
                )
            if not level.allows_ratings:
                await conn.execute(
                    "DELETE FROM ratings WHERE rater_hash = ? AND answer_id IN "
                    "(SELECT answer_id FROM answers WHERE guild_id = ?)",
                    (member_hash, guild_id),
                )
            if not level.allows_quotes:
                await conn.execute(
                    "UPDATE comments SET quotable = 0 WHERE rater_hash = ? AND answer_id IN "
                    "(SELECT answer_id FROM answers WHERE guild_id = ?)",
                    (member_hash, guild_id),
                )

    # Reasons and comments

    async def set_reasons(self, answer_id: int, rater_hash: str, tags: list[str]) -> bool:
        """Replace the reason tags of a member's rating; False if there is no rating to attach them to."""
        async with self._transaction() as conn:
            async with conn.execute(
                "SELECT 1 FROM ratings WHERE answer_id = ? AND rater_hash = ?", (answer_id, rater_hash)
            ) as cursor:
                if await cursor.fetchone() is None:
                    return False
            await conn.execute(
                "DELETE FROM rating_reasons WHERE answer_id = ? AND rater_hash = ?", (answer_id, rater_hash)
            )
            await conn.executemany(
                "INSERT INTO rating_reasons (answer_id, rater_hash, tag) VALUES (?, ?, ?)",
                [(answer_id, rater_hash, tag) for tag in dict.fromkeys(tags)],
            )
            return True

    async def reasons(self, answer_id: int, rater_hash: str) -> list[str]:
        rows = await self._fetchall(
            "SELECT tag FROM rating_reasons WHERE answer_id = ? AND rater_hash = ? ORDER BY tag",
            (answer_id, rater_hash),
        )
        return [str(row[0]) for row in rows]

    async def add_comment(self, comment: NewComment) -> int | None:
        """Store a comment; None when the same Discord message was stored already (a redelivered event)."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO comments (answer_id, rater_hash, text, source, quotable, message_id) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING",
                (
                    comment.answer_id,
                    comment.rater_hash,
                    comment.text,
                    comment.source.value,
                    int(comment.quotable),
                    comment.message_id,
                ),
            )
            return cursor.lastrowid if cursor.rowcount else None

    async def comments_for_answer(self, answer_id: int) -> list[tuple[str, str, bool]]:
        """(rater_hash, text, quotable) of an answer's comments, oldest first."""
        rows = await self._fetchall(
            "SELECT rater_hash, text, quotable FROM comments WHERE answer_id = ? ORDER BY comment_id", (answer_id,)
        )
        return [(str(r[0]), str(r[1]), bool(r[2])) for r in rows]

    # A member's data: export, deletion, retention

    async def member_data(self, member_hash: str) -> dict[str, list[dict[str, Any]]]:
        """Every row linked to the member, table by table, for an export."""
        queries = {
            "consents": "SELECT guild_id, level, consent_version, dm_opt_in, decided_at FROM consents "
            "WHERE member_hash = ?",
            "consent_history": "SELECT guild_id, level, consent_version, decided_at FROM consent_events "
            "WHERE member_hash = ? ORDER BY event_id",
            "questions": "SELECT answer_id, guild_id, channel_id, question, answer, outcome, created_at FROM answers "
            "WHERE asker_hash = ? ORDER BY answer_id",
            "ratings": "SELECT r.answer_id, a.guild_id, r.value, r.scale_size, r.is_asker, r.source, r.created_at, "
            "r.updated_at FROM ratings r JOIN answers a USING (answer_id) WHERE r.rater_hash = ? ORDER BY r.answer_id",
            "rating_reasons": "SELECT answer_id, tag FROM rating_reasons WHERE rater_hash = ? ORDER BY answer_id, tag",
            "comments": "SELECT c.answer_id, a.guild_id, c.text, c.source, c.quotable, c.created_at FROM comments c "
            "JOIN answers a USING (answer_id) WHERE c.rater_hash = ? ORDER BY c.comment_id",
        }
        data: dict[str, list[dict[str, Any]]] = {}
        async with self._lock:
            for name, sql in queries.items():
                async with self._conn.execute(sql, (member_hash,)) as cursor:
                    columns = [column[0] for column in cursor.description]
                    data[name] = [dict(zip(columns, row, strict=True)) for row in await cursor.fetchall()]
        return data

    async def forget_member(self, member_hash: str) -> dict[str, int]:
        """Delete every row linked to the member in every table; returns what was removed, by kind.

        Answers to the member's questions stay for the other members who rated them, but the question
        text and the link to the member are removed.
        """
        async with self._transaction() as conn:
            counts = {}
            for name, sql in (
                ("rating reasons", "DELETE FROM rating_reasons WHERE rater_hash = ?"),
                ("ratings", "DELETE FROM ratings WHERE rater_hash = ?"),
                ("comments", "DELETE FROM comments WHERE rater_hash = ?"),
                ("consent decisions", "DELETE FROM consent_events WHERE member_hash = ?"),
                ("consent records", "DELETE FROM consents WHERE member_hash = ?"),
                (
                    "questions",
                    "UPDATE answers SET asker_hash = 'forgotten', question = '' WHERE asker_hash = ?",
                ),
            ):
                cursor = await conn.execute(sql, (member_hash,))
                counts[name] = cursor.rowcount
            return counts

    async def purge_expired_text(self, now_iso: str) -> tuple[int, int]:
        """Remove raw text older than each server's retention period; returns (answers, comments) purged.

        Ratings, reason tags, timings and token counts stay, so aggregates survive the purge.
        """
        cutoff = "strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-' || coalesce(s.retention_days, 180) || ' days')"
        async with self._transaction() as conn:
            answers = await conn.execute(
                "UPDATE answers SET question = '', answer = '', text_purged_at = ? WHERE text_purged_at IS NULL "
                "AND outcome != 'streaming' AND created_at < (SELECT " + cutoff + " FROM guilds g LEFT JOIN "
                "guild_settings s USING (guild_id) WHERE g.guild_id = answers.guild_id)",
                (now_iso, now_iso),
            )
            comments = await conn.execute(
                "UPDATE comments SET text = '', purged_at = ? WHERE purged_at IS NULL AND created_at < (SELECT "
                + cutoff
                + " FROM answers a JOIN guilds g USING (guild_id) LEFT JOIN guild_settings s USING (guild_id) "
                "WHERE a.answer_id = comments.answer_id)",
                (now_iso, now_iso),
            )
            return answers.rowcount, comments.rowcount

    # Digests

    async def digest_guilds(self) -> list[GuildSettings]:
        """Settings of every server with digests switched on and a digest channel chosen."""
        rows = await self._fetchall(
            "SELECT guild_id FROM guild_settings WHERE digest_enabled = 1 AND digest_channel_id IS NOT NULL "
            "ORDER BY guild_id"
        )
        return [await self.guild_settings(int(row[0])) for row in rows]

    async def get_digest(self, digest_id: int) -> DigestRecord | None:
        row = await self._fetchone(_DIGEST_COLUMNS + " WHERE digest_id = ?", (digest_id,))
        return None if row is None else _digest_record(row)

    async def last_digest(self, guild_id: int) -> DigestRecord | None:
        row = await self._fetchone(
            _DIGEST_COLUMNS + " WHERE guild_id = ? ORDER BY period_end DESC LIMIT 1", (guild_id,)
        )
        return None if row is None else _digest_record(row)

    async def digests(self, guild_id: int, status: DigestStatus | None = None) -> list[DigestRecord]:
        if status is None:
            rows = await self._fetchall(_DIGEST_COLUMNS + " WHERE guild_id = ? ORDER BY period_end", (guild_id,))
        else:
            rows = await self._fetchall(
                _DIGEST_COLUMNS + " WHERE guild_id = ? AND status = ? ORDER BY period_end", (guild_id, status.value)
            )
        return [_digest_record(row) for row in rows]

    async def claim_digest(self, guild_id: int, period_start: str, period_end: str) -> DigestRecord | None:
        """Record that the digest for this server and period is being made; None if it already was.

        This row is written before anything is sent, so a restart or a second scheduler can never
        send the same period twice.
        """
        async with self._transaction() as conn:
            await _ensure_guild_row(conn, guild_id)
            cursor = await conn.execute(
                "INSERT INTO digests (guild_id, period_start, period_end) VALUES (?, ?, ?) "
                "ON CONFLICT (guild_id, period_end) DO NOTHING",
                (guild_id, period_start, period_end),
            )
            if not cursor.rowcount:
                return None
            async with conn.execute(_DIGEST_COLUMNS + " WHERE digest_id = ?", (cursor.lastrowid,)) as rows:
                row = await rows.fetchone()
        assert row is not None
        return _digest_record(row)

    async def update_digest(
        self,
        digest_id: int,
        status: DigestStatus,
        *,
        channel_id: int | None = None,
        message_id: int | None = None,
        files_dir: str | None = None,
        error: str | None = None,
    ) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE digests SET status = ?, channel_id = coalesce(?, channel_id), "
                "message_id = coalesce(?, message_id), files_dir = coalesce(?, files_dir), error = ?, "
                "sent_at = CASE WHEN ? = 'sent' THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') ELSE sent_at END "
                "WHERE digest_id = ?",
                (status.value, channel_id, message_id, files_dir, error, status.value, digest_id),
            )

    async def digest_rows(self, guild_id: int, start: str, end: str) -> DigestRows:
        """One server's answers created in [start, end), with the ratings, reasons and comments they received
        before `end`, the moderators' actions and the consent decisions in the period."""
        async with self._lock:
            guild = await _one(self._conn, "SELECT name FROM guilds WHERE guild_id = ?", (guild_id,))
            answers = [
                AnswerRow(
                    answer_id=int(r[0]),
                    channel_id=int(r[1]),
                    created_at=str(r[2]),
                    asker_hash=str(r[3]),
                    question=str(r[4]),
                    answer=str(r[5]),
                    outcome=str(r[6]),
                    scope_version=r[7],
                    language=_cue(r[8], "language"),
                    setting=_cue(r[8], "setting"),
                    tokens_in=r[9],
                    tokens_out=r[10],
                    ttft_ms=r[11],
                    total_ms=r[12],
                )
                for r in await _all(
                    self._conn,
                    "SELECT a.answer_id, a.channel_id, a.created_at, a.asker_hash, a.question, a.answer, a.outcome, "
                    "v.number, a.cues, a.tokens_in, a.tokens_out, a.ttft_ms, a.total_ms FROM answers a "
                    "LEFT JOIN scope_versions v ON v.version_id = a.scope_version_id "
                    "WHERE a.guild_id = ? AND a.created_at >= ? AND a.created_at < ? AND a.outcome != 'streaming' "
                    "ORDER BY a.answer_id",
                    (guild_id, start, end),
                )
            ]
            in_period = (
                "answer_id IN (SELECT answer_id FROM answers WHERE guild_id = ? AND created_at >= ? AND created_at < ?)"
            )
            ratings = [
                RatingRow(int(r[0]), str(r[1]), int(r[2]), int(r[3]), bool(r[4]), str(r[5]), str(r[6]), str(r[7]))
                for r in await _all(
                    self._conn,
                    "SELECT answer_id, rater_hash, value, scale_size, is_asker, source, created_at, updated_at "
                    f"FROM ratings WHERE {in_period} AND updated_at < ? ORDER BY answer_id, rater_hash",
                    (guild_id, start, end, end),
                )
            ]
            reasons = [
                ReasonRow(int(r[0]), str(r[1]), str(r[2]))
                for r in await _all(
                    self._conn,
                    f"SELECT answer_id, rater_hash, tag FROM rating_reasons WHERE {in_period} "
                    "ORDER BY answer_id, rater_hash, tag",
                    (guild_id, start, end),
                )
            ]
            comments = [
                CommentRow(int(r[0]), int(r[1]), str(r[2]), str(r[3]), bool(r[4]), str(r[5]))
                for r in await _all(
                    self._conn,
                    "SELECT comment_id, answer_id, rater_hash, text, quotable, created_at FROM comments "
                    f"WHERE {in_period} AND created_at < ? ORDER BY comment_id",
                    (guild_id, start, end, end),
                )
            ]
            audit = [
                AuditRow(str(r[0]), str(r[1]), str(r[2]))
                for r in await _all(
                    self._conn,
                    "SELECT action, detail, created_at FROM audit_log WHERE guild_id = ? AND created_at >= ? "
                    "AND created_at < ? ORDER BY entry_id",
                    (guild_id, start, end),
                )
            ]
            events = await _all(
                self._conn,
                "SELECT member_hash, level, decided_at FROM consent_events WHERE guild_id = ? AND decided_at < ? "
                "ORDER BY event_id",
                (guild_id, end),
            )
        declined, withdrew = _consent_changes(events, start)
        return DigestRows(
            guild_id=guild_id,
            guild_name=str(guild[0]) if guild else "",
            start=start,
            end=end,
            answers=answers,
            ratings=ratings,
            reasons=reasons,
            comments=comments,
            audit=audit,
            declined=declined,
            withdrew=withdrew,
        )


_CONSENT_RANK = {"declined": 0, "ratings": 1, "comments": 2, "quotes": 3}
_DIGEST_COLUMNS = (
    "SELECT digest_id, guild_id, period_start, period_end, status, channel_id, message_id, files_dir, error "
    "FROM digests"
)


def _digest_record(row: aiosqlite.Row) -> DigestRecord:
    return DigestRecord(
        int(row[0]), int(row[1]), str(row[2]), str(row[3]), DigestStatus(row[4]), row[5], row[6], row[7], row[8]
    )


def _cue(cues: str | None, name: str) -> str | None:
    if not cues:
        return None
    value = json.loads(cues).get(name)
    return str(value) if value else None


def _consent_changes(events: list[aiosqlite.Row], start: str) -> tuple[int, int]:
    """Members who declined, and who lowered or withdrew consent, by decisions made since `start`."""
    previous: dict[str, int] = {}
    declined: set[str] = set()
    withdrew: set[str] = set()
    for member, level, decided_at in events:
        rank = _CONSENT_RANK[str(level)]
        if str(decided_at) >= start:
            if rank == 0 and member not in previous:
                declined.add(member)
            elif member in previous and rank < previous[member]:
                withdrew.add(member)
        previous[member] = rank
    return len(declined), len(withdrew)


async def _one(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> aiosqlite.Row | None:
    async with conn.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def _all(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> list[aiosqlite.Row]:
    async with conn.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


_GUILD_SETTING_COLUMNS = {
    "allow_unscoped",
    "log_channel_id",
    "research_contact",
    "retention_days",
    "consent_note",
    "consent_revision",
    "rating_scale",
    "rating_controls",
    "reason_tags",
    "answer_channels",
    "cooldown_seconds",
    "daily_token_budget",
    "instructions",
    "answer_language",
    "digest_enabled",
    "digest_cron",
    "digest_timezone",
    "digest_channel_id",
    "research_role_id",
    "answer_in_threads",
}

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


def sqlite_timestamp(moment: datetime) -> str:
    """A UTC time in the format the schema's defaults use, so text comparison orders correctly."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


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
