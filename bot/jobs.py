"""Background jobs on APScheduler: today the daily retention purge (digests will join it)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.storage import Storage, sqlite_timestamp

log = logging.getLogger(__name__)

RETENTION_EVERY = timedelta(hours=24)
FIRST_RETENTION_AFTER = timedelta(minutes=1)  # soon after start-up, so a bot restarted daily still purges


async def run_retention(storage: Storage, now: datetime | None = None) -> tuple[int, int]:
    """Delete raw text past each server's retention period; ratings and counts stay."""
    answers, comments = await storage.purge_expired_text(sqlite_timestamp(now or datetime.now(UTC)))
    if answers or comments:
        log.info("retention: removed the text of %d answer(s) and %d comment(s)", answers, comments)
    return answers, comments


def start_scheduler(storage: Storage) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        run_retention,
        IntervalTrigger(seconds=RETENTION_EVERY.total_seconds()),
        args=[storage],
        id="retention",
        next_run_time=datetime.now(UTC) + FIRST_RETENTION_AFTER,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=int(RETENTION_EVERY.total_seconds()),
    )
    scheduler.start()
    return scheduler
