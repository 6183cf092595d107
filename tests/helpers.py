"""Helpers shared by tests."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cells_containing(db: Path, value: int | str) -> list[tuple[str, str]]:
    """(table, column) of every cell in every table equal to `value` or containing it as text."""
    found = []
    # Closed, not only committed: a count's statement left unfinished holds a read lock, which blocks a bot
    # opening a database in rollback-journal mode (a restored backup) until the connection is collected.
    with contextlib.closing(sqlite3.connect(db)) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                hits = conn.execute(
                    f'SELECT count(*) FROM "{table}" WHERE "{column}" = ? OR CAST("{column}" AS TEXT) LIKE ?',
                    (value, f"%{value}%"),
                ).fetchone()[0]
                if hits:
                    found.append((table, column))
    return found


async def eventually(check: Callable[[], Any], timeout: float = 5.0, what: str = "a condition") -> Any:
    """Poll `check()` until it returns something truthy (e.g. a database condition), and return it."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


async def give_consent(db: Path, guild_id: int, user_id: int, level: str = "comments", key: bytes = b"k" * 32) -> None:
    """Record a member's consent as the consent buttons do (for tests about something else)."""
    from bot.feedback.consent import consent_version
    from bot.pseudonyms import Pseudonymizer
    from bot.storage import ConsentLevel, SqliteStorage

    storage = await SqliteStorage.open(db)
    try:
        await storage.migrate()
        settings = await storage.guild_settings(guild_id)
        member = Pseudonymizer(key).member(user_id)
        await storage.set_consent(guild_id, member, ConsentLevel(level), consent_version(settings))
    finally:
        await storage.close()


def store_scope_version(
    db: Path, guild_id: int, number: int, content: str, *, summary: str = "old", current: bool = True
) -> None:
    """A scope version as an earlier culturebot may have stored it (even one today's rules refuse), made the
    server's current scope unless `current=False`. The database must have its schema already."""
    with sqlite3.connect(db) as conn:
        cursor = conn.execute(
            "INSERT INTO scope_versions (guild_id, number, scope_id, title, content, content_sha256, source, "
            "change_summary, author_id) VALUES (?, ?, 'kopi-talk-test', 'old', ?, ?, 'upload', ?, 1)",
            (guild_id, number, content, hashlib.sha256(content.encode()).hexdigest(), summary),
        )
        if current:
            conn.execute(
                "UPDATE guild_settings SET current_scope_id = ? WHERE guild_id = ?", (cursor.lastrowid, guild_id)
            )
