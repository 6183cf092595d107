"""Consent decisions and forget requests, made so that a database restore cannot undo them.

Each request is first appended to the privacy log (bot/storage/privacy_log.py, outside the database), then made
in the database together with its sequence number; at start-up, `replay` makes the logged requests the database
does not reflect (those made after the backup it was restored from, or one a crash cut off between the two
writes), before the bot goes online.

A request whose log line cannot be written is still made in the database (the member's choice comes first) and
the failure is logged as an error: that one request would not survive a restore.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from bot.storage import ConsentLevel, Forgotten, Storage
from bot.storage.privacy_log import ConsentDecision, ForgetRequest, PrivacyLog, PrivacyLogError

log = logging.getLogger(__name__)

Logged = TypeVar("Logged", ConsentDecision, ForgetRequest)


class PrivacyRequests:
    """Where the bot records consent decisions and forget requests (see the module docstring)."""

    def __init__(self, storage: Storage, privacy_log: PrivacyLog) -> None:
        self._storage = storage
        self._log = privacy_log
        # One request at a time, from its log line to its database change: the database's marker says "every
        # request up to N", which a later request committed before an earlier one would make untrue.
        self._turn = asyncio.Lock()

    async def decide(
        self, guild_id: int, member: str, level: ConsentLevel, consent_version: str, *, dm_opt_in: bool = False
    ) -> int:
        """`Storage.set_consent`, logged first; how many ratings and comments the decision deleted or changed."""
        async with self._turn:
            logged = await self._record(
                self._log.record_consent, guild_id, member, level, consent_version, dm_opt_in, datetime.now(UTC)
            )
            return await self._storage.set_consent(
                guild_id,
                member,
                level,
                consent_version,
                dm_opt_in=dm_opt_in,
                decided_at=logged.at if logged else None,
                logged=logged.seq if logged else None,
            )

    async def forget(self, member: str) -> Forgotten:
        """`Storage.forget_member`, logged first."""
        async with self._turn:
            logged = await self._record(self._log.record_forget, member, datetime.now(UTC))
            return await self._storage.forget_member(member, logged=logged.seq if logged else None)

    async def _record(self, write: Callable[..., Logged], *args: object) -> Logged | None:
        try:
            return await asyncio.to_thread(write, *args)
        except PrivacyLogError as error:
            log.error("%s; the request is made in the database all the same, but a restore would undo it", error)
            return None

    async def replay(self) -> int:
        """Make the logged requests the database does not reflect, oldest first; how many. Then drop the lines
        older than the log's keep period."""
        async with self._turn:
            applied = await self._storage.privacy_log_applied()
            if applied > self._log.last_seq:
                # The log lost lines (replaced, or deleted): new requests must be numbered after what the
                # database holds, or a later restore would take them for ones it already reflects.
                log.warning(
                    "the privacy log %s ends at request %d but the database reflects requests up to %d: the log "
                    "was replaced or lost lines; numbering continues from there",
                    self._log.path,
                    self._log.last_seq,
                    applied,
                )
                self._log.continue_after(applied)
            pending = self._log.after(applied)
            for request in pending:
                if isinstance(request, ForgetRequest):
                    await self._storage.forget_member(request.member, logged=request.seq)
                else:
                    await self._storage.set_consent(
                        request.guild_id,
                        request.member,
                        request.level,
                        request.consent_version,
                        dm_opt_in=request.dm_opt_in,
                        decided_at=request.at,
                        logged=request.seq,
                    )
            if pending:
                log.warning(
                    "re-applied %d privacy request(s) from %s that the database did not hold (restored from a "
                    "backup, or stopped between the two writes)",
                    len(pending),
                    self._log.path,
                )
            dropped = await asyncio.to_thread(self._log.prune, datetime.now(UTC))
            if dropped:
                log.info("dropped %d privacy request(s) older than %s from %s", dropped, self._log.keep, self._log.path)
            return len(pending)
