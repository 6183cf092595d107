"""Randomized comparisons of scope versions: start, the running one (kept in memory), end, history."""

from __future__ import annotations

from bot.storage.records import Comparison
from bot.storage.sqlite.cache import MISSING
from bot.storage.sqlite.connection import ensure_guild_row, fetch_all, fetch_one, write_audit
from bot.storage.sqlite.scopes import ScopesStore, end_running_comparison, load_comparison, running_comparison_id


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
                comparison = await load_comparison(conn, cursor.lastrowid)
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
            comparison = None if running is None else await load_comparison(self._conn, running)
        self._guild_cache.put("comparison", guild_id, generation, comparison)
        return comparison

    async def end_comparison(
        self, guild_id: int, actor_id: int, reason: str, *, only: int | None = None
    ) -> Comparison | None:
        """End the running comparison (only if it is comparison `only`, when given); it, as ended, or None if none
        (or another) was running."""
        try:
            async with self._transaction() as conn:
                return await end_running_comparison(conn, guild_id, actor_id, reason, only)
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
            return [await load_comparison(self._conn, int(row[0])) for row in rows]
