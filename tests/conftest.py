"""Fixtures shared across the test packages."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage import SqliteStorage


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    """A migrated SQLite database in a real file, closed after the test."""
    storage = await SqliteStorage.open(tmp_path / "bot.sqlite3")
    await storage.migrate()
    yield storage
    await storage.close()
