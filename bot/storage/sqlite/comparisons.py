"""Randomized comparisons of scope versions: start, the running one (kept in memory), end, history."""

from __future__ import annotations

import aiosqlite

from bot.storage.records import Comparison
from bot.storage.sqlite.cache import MISSING
from bot.storage.sqlite.connection import ensure_guild_row, fetch_all, fetch_one, write_audit
from bot.storage.sqlite.scopes import (
    SCOPE_COLUMNS,
    ScopesStore,
    end_running_comparison,
    running_comparison_id,
    scope_version_of,
)

_COMPARISON_COLUMNS = (
    "SELECT comparison_id, guild_id, current_version_id, alternative_version_id, alternative_share, started_by, "
    "started_at, ended_at, end_reason FROM comparisons"
)


class ComparisonsStore(ScopesStore):
    """Randomized comparisons of two scope versions, at most one running per server."""

    async def start_comparison(
        self, guild_id: int, actor_id: int, current_version_id: int, alternative_version_id: int, share: float
    ) -> Comparison | None:
        """Start comparing the server's current version with another; None if one is running already.

        `current_version_id` must still be the server's current version when the transaction runs (a scope
        change a moment earlier would otherwise start a comparison of a version no longer in use): None then too.
        """
        try:
            async with self._transaction() as conn:
                await ensure_guild_row(conn, guild_id)
                current = await fetch_one(
                    conn, "SELECT current_scope_id FROM guild_settings WHERE guild_id = ?", (guild_id,)
                )
                running = await running_comparison_id(conn, guild_id)
                if current is None or current[0] != current_version_id or running is not None:
                    return None
                cursor = await conn.execute(
                    "INSERT INTO comparisons (guild_id, current_version_id, alternative_version_id, "
                    "alternative_share, started_by) VALUES (?, ?, ?, ?, ?)",
                    (guild_id, current_version_id, alternative_version_id, share, actor_id),
                )
                assert cursor.lastrowid is not None
                comparison = await _comparison(conn, cursor.lastrowid)
                await write_audit(
                    conn,
                    guild_id,
                    actor_id,
                    "comparison.start",
                    f"comparison {comparison.comparison_id}: version {comparison.current.number} (current) against "
                    f"version {comparison.alternative.number} for {share:.0%} of members",
                )
                return comparison
        finally:
            self._guild_cache.invalidate(guild_id)

    async def running_comparison(self, guild_id: int) -> Comparison | None:
        """The server's running comparison; from memory after the first read (read for every question)."""
        cached = self._guild_cache.get("comparison", guild_id)
        if cached is not MISSING:
            return cached  # type: ignore[no-any-return]
        generation = self._guild_cache.generation(guild_id)
        async with self._lock:
            running = await running_comparison_id(self._conn, guild_id)
            comparison = None if running is None else await _comparison(self._conn, running)
        self._guild_cache.put("comparison", guild_id, generation, comparison)
        return comparison

    async def end_comparison(self, guild_id: int, actor_id: int, reason: str) -> Comparison | None:
        """End the running comparison; it, as ended, or None if none was running."""
        try:
            async with self._transaction() as conn:
                ended = await end_running_comparison(conn, guild_id, actor_id, reason)
                return None if ended is None else await _comparison(conn, ended)
        finally:
            self._guild_cache.invalidate(guild_id)

    async def comparisons(self, guild_id: int, limit: int = 10) -> list[Comparison]:
        """The server's comparisons, newest first."""
        async with self._lock:
            rows = await fetch_all(
                self._conn,
                "SELECT comparison_id FROM comparisons WHERE guild_id = ? ORDER BY comparison_id DESC LIMIT ?",
                (guild_id, limit),
            )
            return [await _comparison(self._conn, int(row[0])) for row in rows]


async def _comparison(conn: aiosqlite.Connection, comparison_id: int) -> Comparison:
    row = await fetch_one(conn, _COMPARISON_COLUMNS + " WHERE comparison_id = ?", (comparison_id,))
    assert row is not None
    versions = {
        int(version[0]): scope_version_of(version)
        for version in await fetch_all(conn, SCOPE_COLUMNS + " WHERE version_id IN (?, ?)", (row[2], row[3]))
    }
    return Comparison(
        comparison_id=int(row[0]),
        guild_id=int(row[1]),
        current=versions[int(row[2])],
        alternative=versions[int(row[3])],
        alternative_share=float(row[4]),
        started_by=int(row[5]),
        started_at=str(row[6]),
        ended_at=row[7],
        end_reason=row[8],
    )
