"""When digests are due: cron expressions in a server's time zone, and the periods between them.

Periods are contiguous: each digest covers from the end of the server's previous digest to the
scheduled time that triggered it. A scheduled time missed while the bot was down is caught up once at
start-up, with one digest covering everything since the last one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from bot.errors import UserFacingError

PRESETS = {
    "weekly": "0 9 * * mon",
    "daily": "0 9 * * *",
    "monthly": "0 9 1 * *",
}
FIRST_PERIOD = timedelta(days=31)  # a server's first digest looks back one interval, at most this far
LOOKBACK = timedelta(days=400)  # how far back to search for the latest scheduled time


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime


def make_trigger(cron: str, timezone: str) -> CronTrigger:
    """A trigger from a 5-field cron expression or a preset, or a UserFacingError saying what is wrong."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserFacingError(
            f"`{timezone}` is not a time zone; use an IANA name such as `Asia/Jakarta` or `Europe/Berlin`."
        ) from None
    expression = PRESETS.get(cron.strip().lower(), cron.strip())
    try:
        return CronTrigger.from_crontab(expression, timezone=zone)
    except ValueError as error:
        raise UserFacingError(
            f"`{cron}` is not a schedule: use `weekly`, `daily`, `monthly` or a cron expression with five fields "
            f"(minute hour day month weekday), e.g. `0 9 * * mon` ({error})."
        ) from None


def next_run(trigger: CronTrigger, after: datetime) -> datetime | None:
    return trigger.get_next_fire_time(None, after)  # type: ignore[no-any-return]


def latest_run(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The most recent scheduled time at or before `now` (within LOOKBACK), in UTC."""
    latest = None
    moment = trigger.get_next_fire_time(None, now - LOOKBACK)
    # Step through the schedule; `+ 1 µs` moves past a fire time without skipping the next one.
    for _ in range(100_000):
        if moment is None or moment > now:
            break
        latest = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))
    return None if latest is None else latest.astimezone(UTC)


def due_period(trigger: CronTrigger, last_end: datetime | None, now: datetime) -> Period | None:
    """The period a digest is due for now, or None when the latest scheduled time is already covered."""
    end = latest_run(trigger, now)
    if end is None or (last_end is not None and end <= last_end):
        return None
    if last_end is None:
        # A first digest covers one scheduling interval (e.g. the last week), or FIRST_PERIOD at most.
        previous = latest_run(trigger, end - timedelta(microseconds=1))
        last_end = max(previous, end - FIRST_PERIOD) if previous is not None else end - FIRST_PERIOD
    return Period(start=last_end, end=end)
