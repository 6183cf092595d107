"""Running a real discord.py client against a stand-in for the length of a test."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TypeVar

import discord

from .server import DiscordStandIn

ClientT = TypeVar("ClientT", bound=discord.Client)


@contextlib.asynccontextmanager
async def connected(
    client: ClientT,
    standin: DiscordStandIn,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109
) -> AsyncIterator[ClientT]:
    """Start ``client`` against ``standin``, yield once it is ready (``on_ready`` fired), close it afterwards.

    Pass a small ``guild_ready_timeout`` to the client (e.g. 0.05) or readiness waits two seconds.
    Login or connection errors (bad token, unexpected close) are raised here.
    """
    target = standin.configure_discord_py()
    task = asyncio.create_task(client.start(standin.token), name="discord-client")
    try:
        deadline = time.monotonic() + timeout
        while not client.is_ready():
            if task.done():
                task.result()
                raise RuntimeError("the client stopped before it was ready")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the client was not ready within {timeout}s")
            await asyncio.sleep(0.01)
        yield client
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError, discord.DiscordException):
            await asyncio.wait_for(task, timeout=5)
        target.restore()
