"""Helpers shared by tests."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cells_containing(db: Path, value: int | str) -> list[tuple[str, str]]:
    """(table, column) of every cell in every table equal to `value` or containing it as text."""
    found = []
    with sqlite3.connect(db) as conn:
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
