"""bench.digest stores its synthetic rows with the bot's schema: a migration that changes a table the benchmark
writes must not break it unnoticed (0022 added a column to ratings, and the benchmark's positional INSERT failed)."""

from __future__ import annotations

from pathlib import Path

from bench.digest import Size, create_database, server_periods, write_database
from bot.storage.sqlite.digests import read_digest_periods


async def test_the_synthetic_rows_are_stored_and_read_back_as_a_digest_reads_them(tmp_path: Path) -> None:
    current, previous = server_periods(1001, Size(200, 40), seed=1)
    conn = await create_database(tmp_path / "bench.sqlite3")
    try:
        write_database(conn, previous)
        write_database(conn, current)
    finally:
        conn.close()
    read, _ = read_digest_periods(tmp_path / "bench.sqlite3", 1001, current.start, current.end, previous.start)
    assert len(read.ratings) == len(current.ratings) > 0
    assert len(read.comments) == len(current.comments) > 0
