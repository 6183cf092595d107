"""The stand-in's waits end when cancelled, however the cancellation meets their polling (bot/sandbox/discord/
observe.py `Changes.wait_for`). On Python 3.11, asyncio.wait_for can turn a cancellation that arrives as its timeout
fires into TimeoutError; a polling loop then never ends, as the sandbox's channel watcher did at exit."""

from __future__ import annotations

import asyncio

from bot.sandbox.discord.observe import Changes

ATTEMPTS = 100


async def test_a_cancelled_wait_ends_even_when_the_cancellation_meets_a_poll_timeout():
    changes = Changes()
    lost = 0
    for attempt in range(ATTEMPTS):
        task: asyncio.Future[object] = asyncio.ensure_future(changes.wait_for(lambda: None, timeout=60, what="nothing"))
        # Cancelled at about the moment one of its polls times out (every poll_interval), at shifting offsets, or
        # in the same turn of the loop as a change wakes it (the stand-in changes all the time while a bot runs).
        await asyncio.sleep(changes.poll_interval * (1 + (attempt % 10) / 50))
        if attempt % 2:
            changes.notify()
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=1)
        if not done:
            lost += 1
            task.cancel()
            await asyncio.wait([task], timeout=1)
    assert lost == 0, f"{lost} of {ATTEMPTS} cancellations were lost"
