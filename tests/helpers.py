"""Helpers shared by tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path


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
