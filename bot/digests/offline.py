"""`culturebot digest`: the same report and files as the scheduled digest, from a database file, no Discord."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.digests.report import DigestFiles
from bot.digests.schedule import Period
from bot.digests.service import bundle, make_files
from bot.storage import SqliteStorage


def day_period(first: date, last: date, timezone: str) -> Period:
    """Whole days [first, last] in a time zone, as a UTC period."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(first, datetime.min.time(), zone)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
    return Period(start.astimezone(UTC), end.astimezone(UTC))


async def offline_digest(db: Path, guild_id: int, period: Period, out: Path) -> tuple[DigestFiles, list[Path]]:
    if not await asyncio.to_thread(db.is_file):
        raise FileNotFoundError(f"no database at {db}")
    storage = await SqliteStorage.open(db)
    try:
        await storage.migrate()
        files = await make_files(storage, guild_id, period, out)
    finally:
        await storage.close()
    return files, bundle(files, out)
