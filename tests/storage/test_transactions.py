"""A transaction whose task is cancelled leaves the one shared connection as it found it.

The answer pipeline cancels its progress saver (`save_answer_progress`, a transaction every few seconds) at every
answer's end. A cancel that landed while `_transaction` awaited its BEGIN cancelled the wait, not the statement:
the database thread still began the transaction, nothing ever ended it, and every later write on the connection
was made inside it (reported as done, visible to no other connection) and rolled back at close.
"""

from __future__ import annotations

import asyncio
import sqlite3

from bot.storage import NewAnswer, SqliteStorage


async def test_a_transaction_cancelled_at_any_moment_leaves_no_transaction_open(storage: SqliteStorage) -> None:
    await storage.ensure_guild(1, "g")
    answer = await storage.start_answer(NewAnswer(1, 2, 3, "asker", "question", "model"))
    for attempt in range(300):
        task = asyncio.create_task(storage.save_answer_progress(answer, f"text {attempt}"))
        for _ in range(attempt % 7):  # cancelled at a different step each time: waiting for the lock, BEGIN, ...
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await storage.set_state("check", str(attempt))  # a transaction of its own: refused inside another
        with sqlite3.connect(f"file:{storage.path}?mode=ro", uri=True) as reader:
            # Committed, so another connection (a digest worker's) sees it.
            assert reader.execute("SELECT value FROM bot_state WHERE key = 'check'").fetchone() == (str(attempt),)
