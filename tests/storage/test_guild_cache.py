"""Settings and the current scope are served from memory, and never stale after the bot changes them."""

import asyncio

import pytest

from bot.storage import NewScopeVersion, ScopeSource, SqliteStorage
from bot.storage.sqlite.cache import MISSING, GuildReadCache

GUILD = 7


def version(content: str) -> NewScopeVersion:
    return NewScopeVersion(
        guild_id=GUILD,
        scope_id="test-scope",
        title="Test scope",
        content=content,
        source=ScopeSource.UPLOAD,
        change_summary="test",
        author_id=1,
    )


async def trace_statements(storage: SqliteStorage) -> list[str]:
    """Statements run on the storage's connection from now on (sqlite3's trace callback)."""
    seen: list[str] = []
    await storage._conn.set_trace_callback(seen.append)
    return seen


async def test_repeated_reads_do_not_touch_the_database(storage):
    await storage.update_guild_settings(GUILD, 1, {"cooldown_seconds": 5}, detail="t")
    await storage.add_scope_version(version("first"))
    await storage.guild_settings(GUILD), await storage.current_scope(GUILD)
    statements = await trace_statements(storage)
    for _ in range(5):
        assert (await storage.guild_settings(GUILD)).cooldown_seconds == 5
        scope = await storage.current_scope(GUILD)
        assert scope is not None and scope.content == "first"
    assert statements == []
    await storage.update_guild_settings(GUILD, 1, {"cooldown_seconds": 6}, detail="t")
    assert any(statement.startswith("SELECT guild_id, current_scope_id") for statement in statements)


async def test_every_change_through_the_storage_is_seen_at_once(storage):
    assert (await storage.guild_settings(GUILD)).cooldown_seconds != 9
    assert await storage.current_scope(GUILD) is None  # cached as "no scope"
    await storage.update_guild_settings(GUILD, 1, {"cooldown_seconds": 9}, detail="t")
    assert (await storage.guild_settings(GUILD)).cooldown_seconds == 9
    await storage.add_scope_version(version("first"))
    first = await storage.current_scope(GUILD)
    assert first is not None and first.content == "first"
    assert (await storage.guild_settings(GUILD)).current_scope_id == first.version_id
    await storage.add_scope_version(version("second"))
    second = await storage.current_scope(GUILD)
    assert second is not None and second.content == "second"
    assert await storage.clear_scope(GUILD, 1) is not None
    assert await storage.current_scope(GUILD) is None
    assert (await storage.guild_settings(GUILD)).current_scope_id is None


async def test_a_failed_change_leaves_no_stale_value(storage):
    assert (await storage.guild_settings(GUILD)).cooldown_seconds != 3
    with pytest.raises(ValueError, match="not a server setting"):
        await storage.update_guild_settings(GUILD, 1, {"no_such_column": 1}, detail="t")
    await storage.update_guild_settings(GUILD, 1, {"cooldown_seconds": 3}, detail="t")
    assert (await storage.guild_settings(GUILD)).cooldown_seconds == 3


async def test_a_read_racing_a_write_is_not_kept(storage):
    await storage.update_guild_settings(GUILD, 1, {"cooldown_seconds": 1}, detail="t")
    storage._guild_cache.invalidate(GUILD)  # nothing cached: the next reads go to the database
    # The read is queued first and reads the old row; the write commits before the read is stored.
    read = asyncio.create_task(storage.guild_settings(GUILD))
    write = asyncio.create_task(storage.update_guild_settings(GUILD, 1, {"cooldown_seconds": 2}, detail="t"))
    await asyncio.gather(read, write)
    assert (await storage.guild_settings(GUILD)).cooldown_seconds == 2


def test_cache_keeps_none_apart_from_missing_and_is_bounded():
    cache = GuildReadCache(max_guilds=2)
    assert cache.get("scope", 1) is MISSING
    cache.put("scope", 1, cache.generation(1), None)
    assert cache.get("scope", 1) is None
    cache.put("scope", 2, cache.generation(2), "two")
    cache.put("scope", 3, cache.generation(3), "three")
    assert cache.get("scope", 1) is MISSING  # the oldest server made room
    assert cache.get("scope", 3) == "three"


def test_a_value_read_before_a_change_is_dropped():
    cache = GuildReadCache()
    generation = cache.generation(1)
    cache.invalidate(1)
    cache.put("settings", 1, generation, "old")
    assert cache.get("settings", 1) is MISSING
