"""A digest reads one server's rows through indexes, and a forget request deletes a member's through them: no
statement scans a whole table.

Every server's digest falls due at the same time by default, so a statement that scans a table shared by all
servers makes the whole batch cost grow with the square of the deployment. consent_events was such a table
until migration 0016 (it was indexed by member only); rating_reasons was one for forget requests until 0017.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.storage import SqliteStorage
from bot.storage.sqlite.digests import _digest_queries
from bot.storage.sqlite.feedback import (
    EXPIRED_ANSWERS,
    FORGET_MEMBER,
    PURGE_ANSWERS,
    PURGE_COMMENTS,
    QUEUE_THREADS,
    REPLY_COMMENTS_IN,
)


async def scans(tmp_path: Path, statements: Iterable[tuple[str, Sequence[Any]]]) -> list[tuple[str, str]]:
    """(statement, plan line) of every whole-table scan in the statements' plans, on a database with every
    migration applied."""
    path = tmp_path / "bot.sqlite3"
    storage = await SqliteStorage.open(path)
    await storage.migrate()
    await storage.close()
    with sqlite3.connect(path) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return [
            (sql, detail)
            for sql, params in statements
            for *_, detail in conn.execute("EXPLAIN QUERY PLAN " + sql, params)
            if detail.startswith("SCAN ") and detail.split()[1] in tables
        ]


@pytest.mark.parametrize("texts", [True, False], ids=["period", "previous period"])
async def test_no_digest_statement_scans_a_table(tmp_path, texts):
    queries = _digest_queries(7, "2026-11-16T00:00:00.000Z", "2026-11-23T00:00:00.000Z", texts=texts)
    assert len(queries) == 8
    assert await scans(tmp_path, queries) == []


async def test_forgetting_a_member_scans_no_table(tmp_path):
    """A forget request holds the database while it deletes: it must not read every server's rows to do it."""
    assert [name for name, _ in FORGET_MEMBER][:2] == ["rating reasons", "ratings"]
    assert await scans(tmp_path, [(sql, ("member",)) for _, sql in FORGET_MEMBER]) == []


async def test_the_reply_comments_of_a_deleted_channel_are_found_without_a_scan(tmp_path):
    """Every channel or thread deleted in any server looks for them, holding the database to delete."""
    statements = [(f"{verb} FROM comments WHERE {REPLY_COMMENTS_IN}", (5, 5)) for verb in ("SELECT 1", "DELETE")]
    assert await scans(tmp_path, statements) == []


async def test_the_daily_purge_and_the_start_up_read_only_the_rows_that_can_be_due(tmp_path):
    """They run under the write lock: reading every row of every server each day (or at each start) held back
    every reaction and answer for seconds on a large deployment."""
    now, due_before = "2026-12-07T00:00:00.000Z", "2026-06-10T00:00:00.000Z"
    statements = [
        (QUEUE_THREADS + EXPIRED_ANSWERS, (due_before, now)),
        (PURGE_ANSWERS, (now, due_before, now)),
        (PURGE_COMMENTS, (now, due_before, now)),
    ]
    assert await scans(tmp_path, statements) == []
    # The answers a crash left streaming: a scan of the partial index that holds only those.
    streaming = [
        ("SELECT answer_id FROM answers WHERE outcome = 'streaming' ORDER BY answer_id", ()),
        ("UPDATE answers SET outcome = 'incomplete' WHERE outcome = 'streaming'", ()),
    ]
    (tmp_path / "again").mkdir()
    details = {detail for _, detail in await scans(tmp_path / "again", streaming)}
    assert details == {"SCAN answers USING INDEX answers_streaming"}
