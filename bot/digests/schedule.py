"""When digests are due: cron expressions in a server's time zone, and the periods between them.

Periods are contiguous: each digest covers from the end of the server's previous digest to the
scheduled time that triggered it. A scheduled time missed while the bot was down is caught up once at
start-up, with one digest covering everything since the last one.

A local time that occurs twice when clocks go back counts once, at its first occurrence: APScheduler fires
again an hour later, and that second run finds nothing due.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
import string
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.cron import CronTrigger

from bot.errors import UserFacingError
from bot.storage import GuildSettings
from bot.wording import counted

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
MAX_SCHEDULE_CHARS = 100  # a cron line's characters
SCHEDULE_HELP = (
    "use `weekly`, `daily`, `monthly` or a cron expression with five fields (minute hour day month weekday), "
    "e.g. `0 9 * * mon`"
)
ZONE_HELP = "use an IANA name such as `Asia/Jakarta` or `Europe/Berlin`"
# APScheduler's names of the first four cron fields, as moderators know them, and their allowed numbers.
CRON_FIELDS = (
    ("minute", "minute", 0, 59),
    ("hour", "hour", 0, 23),
    ("day", "day of month", 1, 31),
    ("month", "month", 1, 12),
)
# Pasted around a value from a help text or a chat message: straight, typographic and code quotes.
QUOTES = "'\"`‘’‚‛“”„‟«»‹›´"
OFFSET = re.compile(r"(?:utc|gmt)?\s*([+\-−])\s*(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)
ZONE_AREAS = ("Europe", "America", "Asia", "Africa", "Australia", "Pacific", "Atlantic", "Indian")


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Schedule:
    cron: str  # as stored and shown: a preset's cron line, without pasted quotes or extra spaces
    timezone: str  # the IANA name, spelled as the tz database does
    trigger: CronTrigger


def unquote(text: str) -> str:
    """`text` without the spaces and quotes (straight, typographic or backticks) pasted around it."""
    return text.strip(QUOTES + string.whitespace)


def parse_schedule(when: str, timezone: str, *, saved: bool = False, typed: bool = True) -> Schedule:
    """A preset or 5-field cron expression in a time zone, normalised, or a UserFacingError saying what is wrong
    and how to write it (`saved`: as `parse_timezone`). `typed`: a moderator typed it now (a schedule saved by an
    earlier version that took a longer line keeps running)."""
    zone_name = parse_timezone(timezone, saved=saved)
    text = unquote(when)
    cron = PRESETS.get(text.lower(), " ".join(text.split()))
    fields = cron.split()
    if not fields:
        raise UserFacingError(f"No schedule given: {SCHEDULE_HELP}.")
    if len(cron) > MAX_SCHEDULE_CHARS and typed:  # shown in replies, /setup and the log, which have length limits
        raise UserFacingError(
            f"`{cron[:40]}…` is too long for a schedule ({len(cron):,} characters; at most {MAX_SCHEDULE_CHARS}): "
            f"list each value once, or use ranges and steps such as `9-17` or `*/2`. {SCHEDULE_HELP}."
        )
    if len(fields) != 5:
        raise UserFacingError(f"`{text}` is not a schedule: it has {counted(len(fields), 'field')}; {SCHEDULE_HELP}.")
    day, weekday = fields[2], fields[4]
    try:
        fields[4] = cron_weekdays(weekday)
    except ValueError as error:
        raise UserFacingError(f"`{text}` is not a schedule: {error}.") from None
    for (name, label, low, high), field in zip(CRON_FIELDS, fields, strict=False):
        try:
            CronTrigger(timezone=UTC, **{name: field})
        except ValueError:
            raise UserFacingError(
                f"`{text}` is not a schedule: {cron_field_problem(label, low, high, field)}."
            ) from None
    if not day.startswith("*") and not weekday.startswith("*"):
        # Cron runs on either day when neither field starts with `*` (with `*/2` both must match, as here);
        # APScheduler always needs both, so `0 9 1 * mon` would run only on Mondays that are the 1st.
        minute, hour, _, month, _ = fields
        raise UserFacingError(
            f"`{text}` sets both a day of the month and a weekday: cron runs on either, which this bot's scheduler "
            f"cannot do. Give one of them, e.g. `{minute} {hour} {day} {month} *` for those days of the month or "
            f"`{minute} {hour} * {month} {weekday}` for those weekdays."
        )
    try:
        trigger = CronTrigger.from_crontab(" ".join(fields), timezone=ZoneInfo(zone_name))
    except ValueError:  # each field passed on its own; APScheduler's own words would mean little to a moderator
        raise UserFacingError(f"`{text}` is not a schedule: {SCHEDULE_HELP}.") from None
    if len(_minutes(trigger)) > 1:
        raise UserFacingError(
            f"`{text}` runs more than once an hour: digests are weekly by default and at most hourly. Give one "
            "minute, e.g. `0 * * * *` for every hour or `0 9 * * *` for every day at 09:00."
        )
    if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
        raise UserFacingError(f"`{text}` never runs: no month has that day. Check the day and month fields.")
    return Schedule(cron, zone_name, trigger)


def make_trigger(cron: str, timezone: str) -> CronTrigger:
    """A saved schedule's trigger from a 5-field cron expression or a preset, or a UserFacingError saying what is
    wrong."""
    return parse_schedule(cron, timezone, saved=True, typed=False).trigger


def cron_field_problem(label: str, low: int, high: int, field: str) -> str:
    """What is wrong with a minute, hour, day-of-month or month field APScheduler refused, in the field's terms."""
    names = " or jan-dec" if label == "month" else ""
    for item in field.split(","):
        span, slash, step = item.partition("/")
        for number in re.findall(r"\d+", span):
            if not low <= int(number) <= high:
                return f"{label} `{number}` is out of range: use {low}-{high}{names}"
        if slash and step.isdecimal() and not 0 < int(step) <= high - low:
            return f"the step in {label} `{item}` must be from 1 to {high - low}, e.g. `*/2`"
        first, dash, last = span.partition("-")
        if dash and first.isdecimal() and last.isdecimal() and int(first) > int(last):
            return (
                f"the {label} range `{item}` runs backwards: put the smaller number first, or split a range "
                f"that wraps around, e.g. `{first}-{high},{low}-{last}`"
            )
    return (
        f"{label} `{field}` is not valid: use a number from {low} to {high}{names}, `*`, a range such as "
        f"`{low}-{low + 4}`, a list such as `{low},{low + 2}` or a step such as `*/2`"
    )


def parse_timezone(text: str, *, saved: bool = False) -> str:
    """The IANA name of a time zone as the tz database spells it (`asia/jakarta` is `Asia/Jakarta`), or a
    UserFacingError that suggests the names meant.

    Names that are not a place are refused when typed (`not_a_place`); `saved=True` reads a name stored by an
    earlier version that took it, which keeps working until a moderator changes it."""
    name = unquote(text)
    if not name:
        raise UserFacingError(f"No time zone given: {ZONE_HELP}.")
    canonical = _zone_names().get(name.lower())
    if canonical is None:
        try:
            ZoneInfo(name)  # a name the tz database has beyond available_timezones(), e.g. one saved before
            canonical = name
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a region's folder (`Asia`), too long a name
            pass
    if canonical is not None:
        problem = None if saved else not_a_place(canonical)
        if problem is not None:
            raise UserFacingError(problem)
        return canonical
    offset = OFFSET.fullmatch(name)
    if offset is not None:
        sign, hours, minutes = offset.group(1), int(offset.group(2)), int(offset.group(3) or 0)
        example = _example_at(hours * 60 + minutes if sign == "+" else -(hours * 60 + minutes))
        raise UserFacingError(
            f"`{name}` is an offset, not a time zone: offsets are not accepted because they ignore daylight "
            f"saving. Use your city's IANA time zone, {example}."
        )
    if any(zone.startswith(name.lower() + "/") for zone in _zone_names()):
        raise UserFacingError(
            f"`{name}` is not a time zone but a region: add the city, as in `Asia/Jakarta` or `Europe/Berlin`."
        )
    suggestions = zone_suggestions(name)
    if suggestions:
        *others, last = [f"`{zone}`" for zone in suggestions]
        meant = f"{', '.join(others)} or {last}" if others else last
        raise UserFacingError(f"`{name}` is not a time zone: did you mean {meant}? Or {ZONE_HELP}.")
    raise UserFacingError(f"`{name}` is not a time zone; {ZONE_HELP}.")


# Names in the tz database that are no place: fixed offsets that ignore daylight saving (EST, MST, HST), old
# rule names (CET, EST5EDT, ...), and Etc/GMT±N, whose sign is the reverse of what it looks like (Etc/GMT-7 is
# UTC+7). UTC itself is a fine choice.
LEGACY_ZONES = frozenset({"EST", "MST", "HST", "CET", "EET", "WET", "MET", "EST5EDT", "CST6CDT", "MST7MDT", "PST8PDT"})
FIXED_ZONES = frozenset({"EST", "MST", "HST"})
ETC_OFFSET = re.compile(r"Etc/GMT([+-])(\d{1,2})")


def not_a_place(zone: str) -> str | None:
    """Why a time zone a moderator typed is refused although the tz database has it, or None: digests follow a
    community's clock, which only a place's zone (`Asia/Jakarta`) keeps through daylight-saving changes."""
    offset = ETC_OFFSET.fullmatch(zone)
    if offset is not None and int(offset.group(2)):
        minutes = int(offset.group(2)) * 60 * (-1 if offset.group(1) == "+" else 1)  # the reversed sign
        clock = f"UTC{'+' if minutes > 0 else '-'}{abs(minutes) // 60}"
        return (
            f"`{zone}` is a fixed offset ({clock}: the Etc names' signs are reversed), which ignores daylight "
            f"saving. Use your city's IANA time zone, {_example_at(minutes)}."
        )
    if zone in LEGACY_ZONES:
        now = ZoneInfo(zone).utcoffset(datetime.now(UTC))
        minutes = round(now.total_seconds() / 60) if now is not None else 0
        what = (
            f"a fixed offset (UTC{'+' if minutes >= 0 else '-'}{abs(minutes) // 60} all year) that ignores daylight "
            "saving"
            if zone in FIXED_ZONES
            else "an old abbreviation-style name, not a place"
        )
        return (
            f"`{zone}` is {what}: use your city's IANA time zone, which follows its daylight-saving rules, "
            f"{_example_at(minutes)}."
        )
    if zone in ("localtime", "Factory"):
        what = "this computer's own setting" if zone == "localtime" else "a placeholder, not a time zone"
        return f"`{zone}` is {what}: {ZONE_HELP}."
    return None


def _example_at(minutes: int) -> str:
    at = ", ".join(f"`{zone}`" for zone in zones_at(minutes))
    return f"e.g. {at} (now at that offset)" if at else "e.g. `Asia/Jakarta` or `Europe/Berlin`"


@functools.cache
def _zone_names() -> dict[str, str]:
    """Every IANA time zone name, by its lower-case spelling."""
    return {zone.lower(): zone for zone in available_timezones()}


def zone_suggestions(name: str, count: int = 3) -> list[str]:
    """The IANA names closest to `name`: those of a city so named first (`jakarta`, `new york`), then similar
    spellings."""
    wanted = name.lower().replace(" ", "_")
    zones = _zone_names()
    cities = sorted(zone for lower, zone in zones.items() if lower.rsplit("/", 1)[-1] == wanted)
    similar = [zones[lower] for lower in difflib.get_close_matches(wanted, zones, n=count, cutoff=0.6)]
    return list(dict.fromkeys(cities + similar))[:count]


def zones_at(minutes: int, count: int = 3) -> list[str]:
    """A few city time zones whose clocks are `minutes` ahead of UTC now."""
    now = datetime.now(UTC)
    found = []
    for zone in _zone_names().values():
        area = zone.split("/", 1)[0]
        if area in ZONE_AREAS and "/" in zone:
            offset = ZoneInfo(zone).utcoffset(now)
            if offset is not None and offset == timedelta(minutes=minutes):
                found.append(zone)
    return sorted(found, key=lambda zone: (ZONE_AREAS.index(zone.split("/", 1)[0]), zone))[:count]


def check_day_range(first: date, last: date, *, start: str, end: str, max_years: int | None = None) -> None:
    """A UserFacingError unless the whole days `first` to `last` run forwards and span at most `max_years`;
    `start` and `end` name the two options in the messages."""
    if last < first:
        raise UserFacingError(f"{end} {last} is before {start} {first}: swap them.")
    limit = None if max_years is None else _add_years(first, max_years)
    if limit is not None and last >= limit:
        raise UserFacingError(
            f"{first} to {last} is {_span(first, last)}; export at most {max_years} years at a time, e.g. {first} "
            f"to {limit - timedelta(days=1)}, then from {limit}."
        )


def _add_years(day: date, years: int) -> date | None:
    """The same day `years` later (29 February becomes 1 March), or None past the calendar's end."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        try:
            return date(day.year + years, 3, 1)
        except ValueError:
            return None


def _span(first: date, last: date) -> str:
    """How long the whole days `first` to `last` are: `27 years`, `10 years and 12 days`."""
    years = 0
    while (following := _add_years(first, years + 1)) is not None and following <= last + timedelta(days=1):
        years += 1
    since = _add_years(first, years) or first
    days = (last + timedelta(days=1) - since).days
    parts = [counted(years, "year")] if years else []
    if days or not parts:
        parts.append(counted(days, "day"))
    return " and ".join(parts)


def schedule_problem(settings: GuildSettings) -> str | None:
    """Why this version refuses the server's saved schedule (saved by an earlier version that took it), or None when
    it is accepted."""
    try:
        make_trigger(settings.digest_cron, settings.digest_timezone)
    except UserFacingError as error:
        return str(error)
    return None


def saved_trigger(settings: GuildSettings, *, quiet: bool = False) -> CronTrigger | None:
    """The trigger of a server's saved schedule, or None (logged unless `quiet`, for callers that only read it)
    when this version no longer accepts it: saved by an earlier version that did (e.g. every 5 minutes), it waits
    for a moderator's `/digest schedule` rather than stop the bot from starting or its digests from being caught
    up."""
    try:
        return make_trigger(settings.digest_cron, settings.digest_timezone)
    except UserFacingError as error:
        if not quiet:
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


JUST_AFTER_SHARE = 0.1  # a period shorter than this share of the schedule's interval is "just after" its start


def just_after(trigger: CronTrigger, period: Period) -> bool:
    """Whether `period` (ending at a scheduled time) is under a tenth of the schedule's interval before it: what a
    scheduled digest would cover just after a `/digest now`."""
    before = latest_run(trigger, period.end - timedelta(microseconds=1))
    if before is None:
        return False
    return period.end - period.start < (period.end - before) * JUST_AFTER_SHARE


def comparison_start(trigger: CronTrigger | None, period: Period) -> datetime:
    """Where the period a digest compares `period` with starts (it ends where `period` starts).

    When `period` is one interval of the server's schedule, the interval before it: a week across a daylight-saving
    change is 167 or 169 hours, and a month 28 to 31 days, so the equally long span before it would leave out
    (or count twice) an hour or days of the previous digest's period. Otherwise (a first or catch-up digest, an
    export, a schedule changed since): the equally long span before it."""
    if trigger is not None:
        step = timedelta(microseconds=1)
        if next_run(trigger, period.start) == period.start and next_run(trigger, period.start + step) == period.end:
            before = latest_run(trigger, period.start - step)
            if before is not None:
                return before
    return period.start - (period.end - period.start)
