"""A deletion of members' data as the digests follow it, for callers that delete (privacy, consent, retention).

Kept apart from service.py so that the feedback views and the privacy cog need not import the digest code (numpy,
matplotlib) to say they are deleting.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.digests.service import DigestService


@dataclass(slots=True)
class Deletion:
    """One deletion of members' data, as `DigestService.deleting` follows it."""

    deleted: bool = False  # set by the caller once something was deleted
    discarding: asyncio.Task[int] | None = None  # the removal of unsent digests' files, once started


def deleting(
    digests: DigestService | None, guild_id: int | None = None
) -> contextlib.AbstractAsyncContextManager[Deletion]:
    """`digests.deleting(guild_id)`, or a context doing nothing when there are no digests (the bot still starting)."""
    return digests.deleting(guild_id) if digests is not None else contextlib.nullcontext(Deletion())
