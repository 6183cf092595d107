"""Consent decisions and forget requests, made so that a database restore cannot undo them.

Each request is first appended to the privacy log (bot/storage/privacy_log.py, outside the database), then made
in the database together with its sequence number; at start-up, `replay` makes the logged requests the database
does not reflect (those made after the backup it was restored from, or one a crash cut off between the two
writes), before the bot goes online.

A request whose log line cannot be written (disk full, the folder unwritable) is still made in the database (the
member's choice comes first) and the failure is logged as an error. Its line is written again before the next
request is logged, and when the bot shuts down (`flush`), and the database's mark then moves past it (the
database reflects it already); only a request whose line is never written (the log stays unwritable until the
bot stops) would not survive a restore. When the database change of a
logged request fails (the member is told), a consent decision's line is taken back out of the log, and a forget
request is made before the next request is logged; either way the database's mark, "every request up to N",
stays true.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from bot.storage import ConsentLevel, Forgotten, Storage
from bot.storage.privacy_log import ConsentDecision, ForgetRequest, PrivacyLog, PrivacyLogError, PrivacyRequest

log = logging.getLogger(__name__)

Logged = TypeVar("Logged", ConsentDecision, ForgetRequest)
Made = TypeVar("Made")


class PrivacyRequests:
    """Where the bot records consent decisions and forget requests (see the module docstring)."""

    def __init__(self, storage: Storage, privacy_log: PrivacyLog) -> None:
        self._storage = storage
        self._log = privacy_log
        # One request at a time, from its log line to its database change: the database's mark says "every
        # request up to N", which a later request committed before an earlier one would make untrue.
        self._turn = asyncio.Lock()
        # Logged, but the database change failed: made before any later request is logged (or at the next start).
        self._unapplied: list[PrivacyRequest] = []
        # Made in the database, but the log line could not be written: written before any later request is logged.
        self._unlogged: list[tuple[Callable[..., PrivacyRequest], tuple[object, ...]]] = []

    async def decide(
        self, guild_id: int, member: str, level: ConsentLevel, consent_version: str, *, dm_opt_in: bool = False
    ) -> int:
        """`Storage.set_consent`, logged first; how many ratings, comments and questions the decision deleted or made
        unquotable."""
        async with self._turn:
            await self._make_unapplied()
            await self._log_unlogged()
            line = (guild_id, member, level, consent_version, dm_opt_in, datetime.now(UTC))
            logged = await self._record_in_turn(self._log.record_consent, *line)
            change = self._storage.set_consent(
                guild_id,
                member,
                level,
                consent_version,
                dm_opt_in=dm_opt_in,
                decided_at=logged.at if logged else None,
                logged=logged.seq if logged else None,
            )
            changed = await self._made(change, logged)
            if logged is None:
                self._unlogged.append((self._log.record_consent, line))
            return changed

    async def forget(self, member: str) -> Forgotten:
        """`Storage.forget_member`, logged first."""
        async with self._turn:
            await self._make_unapplied()
            await self._log_unlogged()
            line = (member, datetime.now(UTC))
            logged = await self._record_in_turn(self._log.record_forget, *line)
            forgotten = await self._made(
                self._storage.forget_member(member, logged=logged.seq if logged else None), logged
            )
            if logged is None:
                self._unlogged.append((self._log.record_forget, line))
            return forgotten

    async def flush(self) -> int:
        """Write the log lines that could not be written when their requests were made (at shutdown); how many
        are still not written."""
        async with self._turn:
            await self._log_unlogged()
            return len(self._unlogged)

    async def _log_unlogged(self) -> None:
        """Requests made in the database whose log line could not be written: written now, in the order they
        were made, each moving the database's mark past it (the database already reflects it)."""
        while self._unlogged:
            write, line = self._unlogged[0]
            try:
                logged = await asyncio.to_thread(write, *line)
            except PrivacyLogError as error:
                log.error("%s; %d privacy request(s) are still not in the privacy log", error, len(self._unlogged))
                return
            self._unlogged.pop(0)
            try:
                await self._storage.note_privacy_logged(logged.seq)
            except Exception:  # the next start makes it again from the log: the same request, made twice
                log.exception("could not record that privacy request %d is in the database", logged.seq)
            log.warning("privacy request %d written to the privacy log now; its first write had failed", logged.seq)

    async def _record_in_turn(self, write: Callable[..., Logged], *args: object) -> Logged | None:
        """The request's log line, unless earlier requests' lines are still unwritten: it must not come before
        them (a restore replays the log in order), so it waits with them (None, as for a line that failed)."""
        if self._unlogged:
            return None
        return await self._record(write, *args)

    async def _record(self, write: Callable[..., Logged], *args: object) -> Logged | None:
        try:
            return await asyncio.to_thread(write, *args)
        except PrivacyLogError as error:
            log.error("%s; the request is made in the database all the same, but a restore would undo it", error)
            return None

    async def _made(self, change: Awaitable[Made], logged: PrivacyRequest | None) -> Made:
        """The database change of a logged request; if it fails, the log is made to agree before raising."""
        try:
            return await change
        except asyncio.CancelledError:
            # Stopped mid-change (shutting down): it may have committed. Made, once, before the next request or at
            # the next start, as after a crash between the two writes.
            if logged is not None:
                self._unapplied.append(logged)
            raise
        except Exception:
            if logged is not None:
                await self._failed(logged)
            raise

    async def _failed(self, logged: PrivacyRequest) -> None:
        """The member is told their request failed. A consent decision must then not take effect later (it would
        delete what they give, and are thanked for, in the meantime): its line goes. A forget request stays and is
        made before the next request (its line already replaced the member's earlier ones, and they asked for
        everything to go)."""
        if isinstance(logged, ForgetRequest):
            self._unapplied.append(logged)
            return
        try:
            await asyncio.to_thread(self._log.withdraw, logged.seq)
        except PrivacyLogError as error:
            log.error("%s; the consent decision that failed will be made with the next privacy request", error)
            self._unapplied.append(logged)

    async def _make_unapplied(self) -> None:
        """Make the logged requests whose database change failed (raises if the database still fails)."""
        if not self._unapplied:
            return
        applied = await self._storage.privacy_log_applied()
        for request in [request for request in self._unapplied if request.seq > applied]:
            await self._make(request)
            log.warning("made privacy request %d now; its first attempt had failed", request.seq)
        self._unapplied.clear()

    async def _make(self, request: PrivacyRequest) -> None:
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

    async def replay(self) -> int:
        """Make the logged requests the database does not reflect, oldest first; how many. Then drop the lines
        older than the log's keep period. Raises PrivacyLogError when the database reflects logged requests but
        there is no log at all (moved or lost: the operator must say where it is, or start a new one)."""
        async with self._turn:
            applied = await self._storage.privacy_log_applied()
            if applied > self._log.last_seq:
                self._check_log_behind(applied)
            # Numbering continues after what the database holds, whatever the log (a later restore must not take
            # new requests for ones it already reflects).
            self._log.continue_after(applied)
            pending = self._log.after(applied)
            for request in pending:
                await self._make(request)
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

    def _check_log_behind(self, applied: int) -> None:
        path = self._log.path
        if not self._log.found:
            raise PrivacyLogError(
                f"the database reflects {applied} privacy request(s) recorded in a privacy log, but there is no log "
                f"at {path}: set CULTUREBOT_PRIVACY_LOG_FILE to where it is (it stays beside the database unless "
                "set), or, if it is lost, create an empty file there to start a new one (a restored backup would "
                "then not get back the requests made after it)"
            )
        if self._log.requests:
            log.warning(
                "the privacy log %s ends at request %d but the database reflects requests up to %d: lines were "
                "lost; numbering continues from there",
                path,
                self._log.last_seq,
                applied,
            )
        else:  # every line was older than the keep period, or the operator started a new log
            log.info("the privacy log %s is empty; numbering continues after request %d", path, applied)
