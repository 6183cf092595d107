"""Background jobs on APScheduler: the daily retention purge, each server's research digest, and the renaming of
threads named after deleted questions."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.digests.schedule import saved_trigger
from bot.digests.service import RETRY_PENDING_EVERY_MINUTES, DigestService
from bot.feedback.privacy import rename_queued_threads
from bot.storage import DigestStatus, GuildSettings, Storage, sqlite_timestamp

log = logging.getLogger(__name__)

RETENTION_EVERY = timedelta(hours=24)
FIRST_RETENTION_AFTER = timedelta(minutes=1)  # soon after start-up, so a bot restarted daily still purges
RENAME_THREADS_EVERY = timedelta(hours=1)  # retries of thread renames that failed (see RENAME_ATTEMPTS)
DIGEST_GRACE = 6 * 3600  # a digest whose time passed up to 6 h ago (event loop busy, clock jump) still runs


async def run_retention(storage: Storage, now: datetime | None = None) -> tuple[int, int]:
    """Delete raw text past each server's retention period; ratings and counts stay."""
    answers, comments = await storage.purge_expired_text(sqlite_timestamp(now or datetime.now(UTC)))
    if answers or comments:
        log.info("retention: removed the text of %d answer(s) and %d comment(s)", answers, comments)
    return answers, comments


class Jobs:
    """Owns the scheduler; digests are scheduled per server in the server's own time zone."""

    def __init__(self, storage: Storage, digests: DigestService, client: discord.Client) -> None:
        self._storage = storage
        self.digests = digests
        self._client = client
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        # The jobs running now: at shutdown they get the grace period to finish (the scheduler's own shutdown
        # cancels them at once, mid-purge or mid-digest).
        self._running: set[asyncio.Task[Any]] = set()

    def _tracked(self, job: Callable[..., Awaitable[Any]]) -> Callable[..., Coroutine[Any, Any, Any]]:
        """`job` as the scheduler runs it, known to `finish_running` while it runs."""

        @functools.wraps(job)
        async def run(*args: Any) -> Any:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                return await job(*args)
            finally:
                self._running.discard(task)

        return run

    async def retention(self, now: datetime | None = None) -> None:
        """The daily purge: raw text in the database, and digest folders past the retention period."""
        # Digests being made are made again without the purged texts; those not posted yet hold them (up to a
        # period older than their folder): their files go, and they are remade from the database when sent.
        async with self.digests.deleting() as deletion:
            deletion.deleted = any(await run_retention(self._storage, now))
        if deletion.discarding is not None:
            await deletion.discarding
        if pruned := await self.digests.prune_files(now):
            log.info("retention: removed %d digest folder(s) older than their server's retention period", pruned)
        await self.rename_threads()  # those named after the questions just purged

    async def rename_threads(self) -> None:
        """Rename the threads still named after a deleted question (forgotten members', purged questions')."""
        done = await rename_queued_threads(self._client, self._storage)
        if done.renamed or done.retrying:
            log.info("renamed %d thread(s) named after deleted questions; %d to retry", done.renamed, done.retrying)

    async def start(self) -> None:
        self._scheduler.add_job(
            self._tracked(self.retention),
            IntervalTrigger(seconds=RETENTION_EVERY.total_seconds()),
            id="retention",
            next_run_time=datetime.now(UTC) + FIRST_RETENTION_AFTER,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(RETENTION_EVERY.total_seconds()),
        )
        self._scheduler.add_job(
            self._tracked(self.retry_pending_digests),
            IntervalTrigger(minutes=RETRY_PENDING_EVERY_MINUTES),
            id="digest-retry",
            coalesce=True,
            max_instances=1,
        )
        self._scheduler.add_job(
            self._tracked(self.rename_threads),
            IntervalTrigger(seconds=RENAME_THREADS_EVERY.total_seconds()),
            id="thread-renames",
            coalesce=True,
            max_instances=1,
        )
        for settings in await self._storage.digest_guilds():
            self.schedule_digest(settings)
        self._scheduler.start()

    async def retry_pending_digests(self) -> int:
        """Post digests that were made but not posted because Discord failed, and make again those whose making
        failed (DigestService.retry_pending); how many were sent."""
        sent = 0
        # Every server with a pending digest, also one whose digests are off: a `/digest now` posts all the same.
        for guild_id in await self._storage.guilds_with_digests(DigestStatus.PENDING):
            try:
                sent += await self.digests.retry_pending(guild_id)
            except Exception:
                log.exception("retrying the digest of server %d failed", guild_id)
        return sent

    def schedule_digest(self, settings: GuildSettings) -> None:
        """(Re)schedule a server's digest after its settings changed; unschedule it when switched off."""
        if not settings.digest_enabled or settings.digest_channel_id is None:
            self.unschedule_digest(settings.guild_id)
            return
        trigger = saved_trigger(settings)
        if trigger is None:
            self.unschedule_digest(settings.guild_id)
            return
        self._scheduler.add_job(
            self._tracked(self.digests.run_scheduled),
            trigger,
            args=[settings.guild_id],
            id=_digest_job(settings.guild_id),
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=DIGEST_GRACE,
        )

    def unschedule_digest(self, guild_id: int) -> None:
        if self._scheduler.get_job(_digest_job(guild_id)) is not None:
            self._scheduler.remove_job(_digest_job(guild_id))

    def next_digest_time(self, guild_id: int) -> datetime | None:
        job = self._scheduler.get_job(_digest_job(guild_id))
        return None if job is None else job.next_run_time

    async def catch_up(self) -> None:
        """At start-up: send kept digests, then any whose time passed while the bot was down (once each); then
        rename the threads whose rename failed before.

        Servers are caught up side by side, one more than there are digest workers, so that no worker
        waits while a finished digest is being posted.
        """
        slots = asyncio.Semaphore(self.digests.workers.processes + 1)

        async def catch_up_server(guild_id: int) -> None:
            if not self.digests.serves(guild_id):
                # Removed from the server while the bot was down: nothing to post to, nothing scheduled.
                log.info("not in server %d any more; its digests are no longer scheduled", guild_id)
                self.unschedule_digest(guild_id)
                return
            if guild_id in scheduled:
                # A saved schedule this version refuses is not scheduled (`schedule_digest`): the moderators hear why.
                try:
                    await self.digests.tell_schedule_refused(guild_id)
                except Exception:
                    log.exception("telling server %d that its saved digest schedule is refused failed", guild_id)
            async with slots:
                # Apart: kept digests that cannot be sent must not hold back the digest that came due meanwhile.
                try:
                    await self.digests.resend_kept(guild_id, at_start=True)
                except Exception:
                    log.exception("sending the kept digests of server %d failed", guild_id)
                try:
                    await self.digests.run_due(guild_id, first=False)
                except Exception:
                    log.exception("catching up the digest of server %d failed", guild_id)

        scheduled = [settings.guild_id for settings in await self._storage.digest_guilds()]
        # Servers whose digests are off may keep a `/digest now` digest that is still to be posted.
        kept = await self._storage.guilds_with_digests(DigestStatus.PENDING, DigestStatus.UNDELIVERED)
        await asyncio.gather(*(catch_up_server(guild_id) for guild_id in sorted({*scheduled, *kept})))
        try:
            await self.rename_threads()  # those whose rename failed before the bot stopped
        except Exception:
            log.exception("renaming the threads named after deleted questions failed")

    def pause(self) -> None:
        """No job starts from here on (shutting down); those running go on (`finish_running`)."""
        if self._scheduler.running:
            self._scheduler.pause()

    async def finish_running(self, grace: float) -> None:
        """Wait up to `grace` seconds for the jobs running now; `shutdown` then cancels any still running."""
        await asyncio.sleep(0)  # a job whose task the scheduler has just made registers itself when it first runs
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace)

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)


def _digest_job(guild_id: int) -> str:
    """The scheduler's id of a server's digest job."""
    return f"digest:{guild_id}"
