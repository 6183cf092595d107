"""When digests are due: cron expressions in a server's time zone, and the periods between them.

Periods are contiguous: each digest covers from the end of the server's previous digest to the
scheduled time that triggered it. A scheduled time missed while the bot was down is caught up once at
start-up, with one digest covering everything since the last one.

A local time that occurs twice when clocks go back counts once, at its first occurrence: APScheduler fires
again an hour later, and that second run finds nothing due.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from bot.errors import UserFacingError
from bot.storage import GuildSettings

log = logging.getLogger(__name__)

PRESETS = {
    "weekly": "0 9 * * mon",
    "daily": "0 9 * * *",
    "monthly": "0 9 1 * *",
}
FIRST_PERIOD = timedelta(days=31)  # a server's first digest looks back one interval, at most this far
LOOKBACK = timedelta(days=400)  # how far back to search for the latest scheduled time
FIRST_WINDOW = timedelta(hours=2)  # latest_run's first window back from now: holds an hourly schedule's latest run
WINDOW_GROWTH = 4
NARROW_TO = timedelta(hours=1)  # runs are at least an hour apart, so stepping through this many is cheap
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's numbering: 0 (and 7) is Sunday
WEEKDAY_HELP = "use 0-7 (0 and 7 are Sunday) or sun, mon, tue, wed, thu, fri, sat, e.g. `0 9 * * mon-fri`"


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime


def make_trigger(cron: str, timezone: str) -> CronTrigger:
    """A trigger from a 5-field cron expression or a preset, or a UserFacingError saying what is wrong."""
    timezone = timezone.strip()
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a region's folder (`Asia`), a name too long
        raise UserFacingError(
            f"`{timezone}` is not a time zone; use an IANA name such as `Asia/Jakarta` or `Europe/Berlin`."
        ) from None
    fields = PRESETS.get(cron.strip().lower(), cron.strip()).split()
    if len(fields) == 5:
        try:
            fields[4] = cron_weekdays(fields[4])
        except ValueError as error:
            raise UserFacingError(f"`{cron}` is not a schedule: {error}.") from None
    try:
        trigger = CronTrigger.from_crontab(" ".join(fields), timezone=zone)
    except ValueError as error:
        raise UserFacingError(
            f"`{cron}` is not a schedule: use `weekly`, `daily`, `monthly` or a cron expression with five fields "
            f"(minute hour day month weekday), e.g. `0 9 * * mon` ({error})."
        ) from None
    if len(_minutes(trigger)) > 1:
        raise UserFacingError(
            f"`{cron}` runs more than once an hour: digests are weekly by default and at most hourly. Give one "
            "minute, e.g. `0 * * * *` for every hour or `0 9 * * *` for every day at 09:00."
        )
    if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
        raise UserFacingError(f"`{cron}` never runs: no month has that day. Check the day and month fields.")
    return trigger


def saved_trigger(settings: GuildSettings) -> CronTrigger | None:
    """The trigger of a server's saved schedule, or None (logged) when this version no longer accepts it: saved by
    an earlier version that did (e.g. every 5 minutes), it waits for a moderator's `/digest schedule` rather than
    stop the bot from starting or its digests from being caught up."""
    try:
        return make_trigger(settings.digest_cron, settings.digest_timezone)
    except UserFacingError as error:
        log.warning("server %d's saved digest schedule is not used: %s", settings.guild_id, error)
        return None


def cron_weekdays(field: str) -> str:
    """APScheduler's day_of_week for a standard cron weekday field, whose numbers APScheduler 3 reads from
    0 = Monday. Raises ValueError saying what is wrong."""
    if field == "*":
        return field
    days: set[int] = set()
    for item in field.split(","):
        if not item:
            raise ValueError("the weekday field has an empty entry; separate days with single commas, e.g. `mon,fri`")
        span, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdecimal() or int(step_text) == 0:
                raise ValueError(f"the step in `{item}` must be a whole number of days, e.g. `*/2`")
            step = int(step_text)
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            start, _, end = span.partition("-")
            first, last = _weekday(start, item), _weekday(end, item)
            if last == 0 < first:
                last = 7  # a range up to Sunday, e.g. `mon-sun`
            if first > last:
                raise ValueError(
                    f"the weekday range `{item}` runs backwards; for days across the weekend use a list, "
                    "e.g. `fri,sat,sun,mon` or `5-7,1`"
                )
        elif slash:
            raise ValueError(f"a step needs `*` or a range before it, e.g. `*/2` or `1-5/2`, not `{item}`")
        else:
            first = last = _weekday(span, item)
        days.update(day % 7 for day in range(first, last + 1, step))
    return "*" if len(days) == 7 else ",".join(WEEKDAYS[day] for day in sorted(days))


def _weekday(text: str, item: str) -> int:
    if text.isdecimal() and int(text) <= 7:
        return int(text)
    if text.lower() in WEEKDAYS:
        return WEEKDAYS.index(text.lower())
    raise ValueError(f"`{text or item}` is not a weekday; {WEEKDAY_HELP}")


def _minutes(trigger: CronTrigger) -> set[int]:
    """The minutes of the hour the trigger fires at (from APScheduler 3's fields, which have no public API)."""
    field = next(field for field in trigger.fields if field.name == "minute")
    return {minute for minute in range(60) if field.get_next_value(datetime(2000, 1, 1, 0, minute)) == minute}


def _repeated(moment: datetime, zone: tzinfo) -> bool:
    """Whether the local clock already showed this time an hour earlier (clocks went back)."""
    return moment.astimezone(zone).fold == 1


def next_run(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first scheduled time at or after `after`, in UTC."""
    moment = trigger.get_next_fire_time(None, after)
    while moment is not None and _repeated(moment, trigger.timezone):
        moment = trigger.get_next_fire_time(None, moment.astimezone(UTC) + timedelta(microseconds=1))
    return None if moment is None else moment.astimezone(UTC)


def latest_run(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The most recent scheduled time at or before `now` (within LOOKBACK), in UTC.

    Widens a window back from now until it holds a run, then halves it down to an hour and steps from there: a few
    dozen trigger steps at most, however often or rarely the schedule runs.
    """
    now = now.astimezone(UTC)
    early, late = now - FIRST_WINDOW, now + timedelta(microseconds=1)  # a run in [early, now], none in [late, now]
    while not _runs_between(trigger, early, now):
        if now - early >= LOOKBACK:
            return None
        late, early = early, max(now - (now - early) * WINDOW_GROWTH, now - LOOKBACK)
    while late - early > NARROW_TO:
        middle = early + (late - early) / 2
        if _runs_between(trigger, middle, now):
            early = middle
        else:
            late = middle
    # Step to now rather than to `late`: a search starting just after the hour clocks skip misses a time in it
    # (APScheduler moves it past the gap), so "no run in [late, now]" can be wrong; stepping from a run is not.
    latest = None
    moment = next_run(trigger, early)
    while moment is not None and moment <= now:
        latest = moment
        moment = next_run(trigger, moment + timedelta(microseconds=1))  # UTC, so adding is exact in a repeated hour
    return latest


def _runs_between(trigger: CronTrigger, start: datetime, end: datetime) -> bool:
    moment = next_run(trigger, start)
    return moment is not None and moment <= end


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
