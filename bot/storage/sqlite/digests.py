"""Digest records and the rows a digest is computed from."""

from __future__ import annotations

import json

import aiosqlite

from bot.digests.rows import AnswerRow, AuditRow, CommentRow, DigestRows, RatingRow, ReasonRow
from bot.storage.records import (
    DigestRecord,
    DigestStatus,
    GuildSettings,
)
from bot.storage.sqlite.connection import (
    ensure_guild_row,
    fetch_all,
    fetch_one,
)
from bot.storage.sqlite.scopes import ScopesStore


class DigestsStore(ScopesStore):
    """Digest records and the rows a digest is computed from."""

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
            await ensure_guild_row(conn, guild_id)
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
            guild = await fetch_one(self._conn, "SELECT name FROM guilds WHERE guild_id = ?", (guild_id,))
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
                for r in await fetch_all(
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
                for r in await fetch_all(
                    self._conn,
                    "SELECT answer_id, rater_hash, value, scale_size, is_asker, source, created_at, updated_at "
                    f"FROM ratings WHERE {in_period} AND updated_at < ? ORDER BY answer_id, rater_hash",
                    (guild_id, start, end, end),
                )
            ]
            reasons = [
                ReasonRow(int(r[0]), str(r[1]), str(r[2]))
                for r in await fetch_all(
                    self._conn,
                    f"SELECT answer_id, rater_hash, tag FROM rating_reasons WHERE {in_period} "
                    "ORDER BY answer_id, rater_hash, tag",
                    (guild_id, start, end),
                )
            ]
            comments = [
                CommentRow(int(r[0]), int(r[1]), str(r[2]), str(r[3]), bool(r[4]), str(r[5]))
                for r in await fetch_all(
                    self._conn,
                    "SELECT comment_id, answer_id, rater_hash, text, quotable, created_at FROM comments "
                    f"WHERE {in_period} AND created_at < ? ORDER BY comment_id",
                    (guild_id, start, end, end),
                )
            ]
            audit = [
                AuditRow(str(r[0]), str(r[1]), str(r[2]))
                for r in await fetch_all(
                    self._conn,
                    "SELECT action, detail, created_at FROM audit_log WHERE guild_id = ? AND created_at >= ? "
                    "AND created_at < ? ORDER BY entry_id",
                    (guild_id, start, end),
                )
            ]
            events = await fetch_all(
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
