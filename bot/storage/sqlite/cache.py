"""Per-server reads kept in memory: settings and the current scope are read for every question and click.

The bot is the only writer of these rows (one process per set of servers), and every write goes through
the storage methods that drop the server's entries here, so a cached value is never stale. A read that
raced a write is not kept: each server has a generation, bumped by every change, and a value is stored
only if the generation it was read under is still current.
"""

from __future__ import annotations

from typing import Any, Final

MISSING: Final = object()  # "not cached": distinct from a cached None (a server without a scope)


class GuildReadCache:
    """Values by (kind, server), bounded; the oldest server's entries go first."""

    def __init__(self, max_guilds: int = 10_000) -> None:
        self._max_guilds = max_guilds
        self._values: dict[int, dict[str, Any]] = {}
        self._generations: dict[int, int] = {}

    def get(self, kind: str, guild_id: int) -> Any:
        """The cached value, or MISSING."""
        return self._values.get(guild_id, {}).get(kind, MISSING)

    def generation(self, guild_id: int) -> int:
        """Take before reading from the database; pass to `put` with what was read."""
        return self._generations.get(guild_id, 0)

    def put(self, kind: str, guild_id: int, generation: int, value: Any) -> None:
        if self._generations.get(guild_id, 0) != generation:
            return  # changed while it was being read: the next read fetches the new value
        entries = self._values.get(guild_id)
        if entries is None:
            if len(self._values) >= self._max_guilds:
                del self._values[next(iter(self._values))]
            entries = self._values[guild_id] = {}
        entries[kind] = value

    def invalidate(self, guild_id: int) -> None:
        """The server's settings or scope changed (or are about to)."""
        self._generations[guild_id] = self._generations.get(guild_id, 0) + 1
        self._values.pop(guild_id, None)
