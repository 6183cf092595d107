"""Digest records and the rows a digest is computed from."""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import Iterable, Sequence
from operator import itemgetter
from pathlib import Path
from sys import intern
from typing import Any

import aiosqlite

from bot.digests.rows import AnswerRow, AuditRow, CommentRow, DigestRows, RatingRow, ReasonRow
from bot.storage.records import (
    QUOTES_COVER_QUESTIONS_FROM,
    DigestRecord,
    DigestStatus,
    GuildSettings,
)
from bot.storage.sqlite.connection import (
    BUSY_TIMEOUT_MS,
    ensure_guild_row,
    fetch_all,
)
from bot.storage.sqlite.scopes import ScopesStore


class DigestsStore(ScopesStore):
    """Digest records and the rows a digest is computed from."""

    # Digests

    async def guilds_with_digests(self, *statuses: DigestStatus) -> list[int]:
        """The servers with digests in any of these states (whether or not their digests are switched on now)."""
        marks = ", ".join("?" * len(statuses))
        rows = await self._fetchall(
            f"SELECT DISTINCT guild_id FROM digests WHERE status IN ({marks}) ORDER BY guild_id",
            tuple(status.value for status in statuses),
        )
        return [int(row[0]) for row in rows]

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

    async def claim_digest(
        self,
        guild_id: int,
        period_start: str,
        period_end: str,
        *,
        on_demand: bool = False,
        compared_from: str | None = None,
    ) -> DigestRecord | None:
        """Record that the digest for this server and period is being made (`on_demand`: asked for with `/digest
        now`), compared with the period from `compared_from` to its start; None if it already was.

        This row is written before anything is sent, so a restart or a second scheduler can never
        send the same period twice.
        """
        async with self._transaction() as conn:
            await ensure_guild_row(conn, guild_id)
            cursor = await conn.execute(
                "INSERT INTO digests (guild_id, period_start, period_end, on_demand, compared_from) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, period_end) DO NOTHING",
                (guild_id, period_start, period_end, int(on_demand), compared_from),
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

    async def answers_asked(self, guild_id: int, start: str, end: str) -> int:
        """How many answers the server's members asked for in [start, end), of any outcome."""
        row = await self._fetchone(
            "SELECT count(*) FROM answers WHERE guild_id = ? AND created_at >= ? AND created_at < ?",
            (guild_id, start, end),
        )
        return int(row[0]) if row else 0

    async def answers_being_written(self, guild_id: int, start: str, end: str) -> int:
        """How many of the server's answers created in [start, end) are still streaming (not finished yet)."""
        row = await self._fetchone(
            "SELECT count(*) FROM answers WHERE guild_id = ? AND created_at >= ? AND created_at < ? "
            "AND outcome = 'streaming'",
            (guild_id, start, end),
        )
        return int(row[0]) if row else 0

    async def digest_rows(
        self, guild_id: int, start: str, end: str, *, feedback_before: str | None = None
    ) -> DigestRows:
        """One server's answers created in [start, end), with the ratings, reasons and comments they received
        before `feedback_before` (by default `end`; a rating counts with its latest value), the moderators'
        actions and the consent decisions in the period.

        A later `feedback_before` reads an earlier period as it is known now: with the ratings its answers got,
        or that were changed, after it ended (the previous period a digest compares with is read up to the
        digest's own end, so that no rating falls between two digests)."""
        queries = _digest_queries(guild_id, start, end, feedback_before=feedback_before)
        async with self._lock:
            results = [await fetch_all(self._conn, sql, params) for sql, params in queries]
        return _digest_rows(guild_id, start, end, results, feedback_before)


def read_digest_periods(
    database: Path, guild_id: int, start: str, end: str, previous_start: str, feedback_before: str | None = None
) -> tuple[DigestRows, DigestRows]:
    """A digest's rows, read on a read-only connection of the caller's own: `digest_rows` of the period
    [start, end) and of the one before it, [previous_start, start), both with the feedback their answers
    received before `feedback_before` (by default `end`), the earlier one without its question and answer texts
    (it is only compared with, never quoted or exported).

    For digests made in worker processes: they read the rows themselves instead of receiving them pickled
    (unpickling 100,000 ratings takes seconds). Both periods come from one read transaction, so from one
    consistent snapshot; in WAL mode the reader never blocks the bot's writes. Rows are built as the cursor
    steps, and repeated texts (member hashes, tags, sources) are shared, to keep a large server's rows small.
    """
    uri = database.resolve().as_uri() + "?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)) as conn:
        conn.execute("BEGIN")
        try:
            feedback = feedback_before or end
            queries = _digest_queries(guild_id, start, end, feedback_before=feedback)
            current = _digest_rows(guild_id, start, end, _cursors(conn, queries), feedback_before)
            queries = _digest_queries(guild_id, previous_start, start, texts=False, feedback_before=feedback)
            return current, _digest_rows(guild_id, previous_start, start, _cursors(conn, queries), feedback)
        finally:
            conn.rollback()


def _cursors(conn: sqlite3.Connection, queries: list[tuple[str, tuple[Any, ...]]]) -> list[sqlite3.Cursor]:
    return [conn.execute(sql, params) for sql, params in queries]


_IN_PERIOD = "answer_id IN (SELECT answer_id FROM answers WHERE guild_id = ? AND created_at >= ? AND created_at < ?)"


def _digest_queries(
    guild_id: int, start: str, end: str, *, texts: bool = True, feedback_before: str | None = None
) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements behind `digest_rows`, in the order `_digest_rows` takes their results; `texts=False`
    leaves out the answers' question and answer texts ("" instead), and whether they may be shown (false)."""
    answer_texts = "a.question, a.answer" if texts else "'', ''"
    # Whether the question may be shown in the reports: asked in public, and its asker's consent allows quoting as
    # it stands now, given under a notice that said questions may be quoted (its text version, the integer part of
    # "2.0"). 0 without a consent row: never chose, declined, or forgotten. Not read without the texts.
    quotable = (
        "a.ephemeral = 0 AND c.level IS 'quotes' "
        f"AND CAST(c.consent_version AS INTEGER) >= {QUOTES_COVER_QUESTIONS_FROM}"
        if texts
        else "0"
    )
    consents = "LEFT JOIN consents c ON c.guild_id = a.guild_id AND c.member_hash = a.asker_hash " if texts else ""
    feedback = feedback_before or end
    return [
        ("SELECT name FROM guilds WHERE guild_id = ?", (guild_id,)),
        (
            # A thread's channel rather than the thread (migrations/0009_thread_parents.sql).
            "SELECT a.answer_id, coalesce(a.thread_parent_id, a.channel_id), a.created_at, a.asker_hash, "
            f"{answer_texts}, a.outcome, v.number, "
            "json_extract(a.cues, '$.language'), json_extract(a.cues, '$.setting'), "
            "a.tokens_in, a.tokens_out, a.tokens_estimated, a.ttft_ms, a.total_ms, a.comparison_id || ':' || a.arm, "
            f"a.model, a.ephemeral, a.parent_answer_id, {quotable} "
            "FROM answers a "
            "LEFT JOIN scope_versions v ON v.version_id = a.scope_version_id "
            f"{consents}"
            # Through the ids rather than the time index: rows come in id order, with no sort of long texts.
            f"WHERE a.{_IN_PERIOD} AND a.outcome != 'streaming' ORDER BY a.answer_id",
            (guild_id, start, end),
        ),
        (
            # The source as 0/1 (the schema allows two), and the update time only when it differs from the
            # creation time: fewer strings for the cursor to make, one per rating for each.
            "SELECT answer_id, rater_hash, value, scale_size, is_asker, source = 'button', created_at, "
            f"nullif(updated_at, created_at) FROM ratings WHERE {_IN_PERIOD} AND updated_at < ? "
            "ORDER BY answer_id, rater_hash",
            (guild_id, start, end, feedback),
        ),
        (
            # The reasons of the ratings read above: none of a rating given or changed after the cut-off.
            "SELECT r.answer_id, r.rater_hash, r.tag FROM rating_reasons r JOIN ratings t "
            f"ON t.answer_id = r.answer_id AND t.rater_hash = r.rater_hash WHERE r.{_IN_PERIOD} AND t.updated_at < ? "
            "ORDER BY r.answer_id, r.rater_hash, r.tag",
            (guild_id, start, end, feedback),
        ),
        (
            "SELECT comment_id, answer_id, rater_hash, text, quotable, created_at FROM comments "
            f"WHERE {_IN_PERIOD} AND created_at < ? ORDER BY comment_id",
            (guild_id, start, end, feedback),
        ),
        (
            "SELECT action, detail, created_at FROM audit_log WHERE guild_id = ? AND created_at >= ? "
            "AND created_at < ? ORDER BY entry_id",
            (guild_id, start, end),
        ),
        (
            "SELECT member_hash, level, decided_at FROM consent_events WHERE guild_id = ? AND decided_at < ? "
            "ORDER BY event_id",
            (guild_id, end),
        ),
        (
            # The scope version in use at the period's end: every change (upload, edit, rollback) is a new,
            # higher number, so the latest one made before the end, unless the scope was cleared after it.
            "SELECT v.number FROM (SELECT number, created_at FROM scope_versions WHERE guild_id = ? "
            "AND created_at < ? ORDER BY number DESC LIMIT 1) v WHERE NOT EXISTS (SELECT 1 FROM audit_log "
            "WHERE guild_id = ? AND action = 'scope.clear' AND created_at >= v.created_at AND created_at < ?)",
            (guild_id, end, guild_id, end),
        ),
    ]


def _digest_rows(
    guild_id: int,
    start: str,
    end: str,
    results: Sequence[Iterable[Sequence[Any]]],
    feedback_before: str | None = None,
) -> DigestRows:
    """`DigestRows` from the results of `_digest_queries` (lists, or cursors still to step through).

    The schema fixes the columns' types (NOT NULL integers and texts), so values are taken as they come; only
    the 0/1 flags become booleans. Texts that repeat across rows (member hashes, tags, outcomes) are interned,
    a rating's source is one of two shared strings, and its update time is its creation time's object when the
    two are equal.
    """
    guild, answers, ratings, reasons, comments, audit, events, scope = results
    name = next(iter(guild), None)
    in_use = next(iter(scope), None)
    answer_rows = [
        AnswerRow(
            answer_id,
            channel,
            created,
            intern(asker),
            question,
            text,
            intern(outcome),
            version,
            _cue(lang),
            _cue(setting),
            tokens_in,
            tokens_out,
            _FLAGS[estimated],
            ttft,
            total,
            arm,
            intern(model),
            _FLAGS[private],
            parent,
            _FLAGS[quotable],
        )
        for (
            answer_id,
            channel,
            created,
            asker,
            question,
            text,
            outcome,
            version,
            lang,
            setting,
            tokens_in,
            tokens_out,
            estimated,
            ttft,
            total,
            arm,
            model,
            private,
            parent,
            quotable,
        ) in answers
    ]
    rating_rows = [
        RatingRow(
            answer_id,
            intern(rater),
            value,
            scale,
            _FLAGS[asker],
            _SOURCES[button],
            created,
            created if updated is None else updated,
        )
        for answer_id, rater, value, scale, asker, button, created, updated in ratings
    ]
    reason_rows = [ReasonRow(answer_id, intern(rater), intern(tag)) for answer_id, rater, tag in reasons]
    comment_rows = [
        CommentRow(comment_id, answer_id, intern(rater), text, _FLAGS[quotable], created)
        for comment_id, answer_id, rater, text, quotable, created in comments
    ]
    # In the order they were made, of two at the same time the one recorded later (a decision re-applied from the
    # privacy log after a restore keeps its own time, so may be recorded after a later one). A stable sort.
    decisions = sorted(events, key=itemgetter(2))
    declined, withdrew = _consent_changes(decisions, start)
    return DigestRows(
        guild_id=guild_id,
        guild_name=str(name[0]) if name else "",
        start=start,
        end=end,
        answers=answer_rows,
        ratings=rating_rows,
        reasons=reason_rows,
        comments=comment_rows,
        audit=list(itertools.starmap(AuditRow, audit)),
        declined=declined,
        withdrew=withdrew,
        feedback_before=None if feedback_before == end else feedback_before,
        scope_version=int(in_use[0]) if in_use else None,
        consent_levels=_consent_levels(decisions),
    )


_CONSENT_RANK = {"declined": 0, "ratings": 1, "comments": 2, "quotes": 3}
_FLAGS = (False, True)  # a 0/1 column as a boolean, by index
_SOURCES = ("reaction", "button")  # a rating's source by `source = 'button'`


_DIGEST_COLUMNS = (
    "SELECT digest_id, guild_id, period_start, period_end, status, channel_id, message_id, files_dir, error, "
    "created_at, on_demand, compared_from FROM digests"
)


def _digest_record(row: aiosqlite.Row) -> DigestRecord:
    return DigestRecord(
        digest_id=int(row[0]),
        guild_id=int(row[1]),
        period_start=str(row[2]),
        period_end=str(row[3]),
        status=DigestStatus(row[4]),
        channel_id=row[5],
        message_id=row[6],
        files_dir=row[7],
        error=row[8],
        created_at=row[9],
        on_demand=bool(row[10]),
        compared_from=row[11],
    )


def _cue(value: object) -> str | None:
    """A cue read from the answer's cues (JSON, through json_extract): text, or None when absent or empty."""
    return str(value) if value else None


def _consent_changes(events: Sequence[Sequence[Any]], start: str) -> tuple[int, int]:
    """Members who declined, and who lowered or withdrew consent, by decisions made since `start` (`events` in the
    order they were made)."""
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


def _consent_levels(events: Sequence[Sequence[Any]]) -> dict[str, str]:
    """Each member's level by their latest decision among `events` (those made before the period's end, in the
    order they were made)."""
    return {member: intern(str(level)) for member, level, _ in events}
