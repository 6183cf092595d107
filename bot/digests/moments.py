"""The moments `culturebot digest` takes for --from, --to and --feedback-until, as typed: a date, which names a
whole day, or a date and time (ISO 8601), which names an exact instant, read in a time zone unless it carries its
own UTC offset or `Z`.

Parsing the text (`parse_moment`) needs no time zone, so a malformed value is refused with the other malformed
arguments; turning it into an instant (`instant`) does, and refuses local times that a daylight-saving change made
ambiguous: one that never happened (the clocks went forward over it) or happened twice (they went back over it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.digests.schedule import unquote

MOMENT_FORMS = (
    "write a date, YYYY-MM-DD (a whole day), or a date and time, YYYY-MM-DDTHH:MM or 'YYYY-MM-DD HH:MM' (seconds "
    "optional), read in --timezone unless followed by a UTC offset or Z, e.g. 2026-11-16T09:00+07:00 or "
    "2026-11-16T02:00Z"
)

# The forms MOMENT_FORMS names and no others (datetime.fromisoformat would also take week dates, 20261116, any
# character between date and time…): what is accepted is what the help says. Fractions of a second stop at
# milliseconds, the precision the database stores (digest.json's `start` and `end` have them: they paste as is).
_MOMENT = re.compile(
    r"(?P<day>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)


class MomentError(ValueError):
    """A moment that is not one (or names no single instant), as one line saying what to write instead."""


@dataclass(frozen=True, slots=True)
class Moment:
    """A moment as typed: `value` is a date (a whole day), a naive datetime (a wall-clock time in the time zone it
    is read in) or an aware one (its own offset)."""

    text: str  # as typed, without the quotes or spaces pasted around it: for messages
    value: date | datetime

    @property
    def whole_day(self) -> bool:
        return not isinstance(self.value, datetime)


def parse_moment(text: str) -> Moment:
    """`text` as a date or a date and time (`MOMENT_FORMS`); a MomentError saying the accepted forms otherwise."""
    typed = unquote(text)
    normal = " ".join(typed.split()).replace("−", "-")  # spaces doubled in pasting; a typographic minus sign
    refused = MomentError(f"{text!r} is not a date or a date and time; {MOMENT_FORMS}")
    found = _MOMENT.fullmatch(normal)
    if found is None:
        raise refused
    try:
        if found["time"] is None:
            return Moment(typed, date.fromisoformat(found["day"]))
        offset = (found["offset"] or "").upper().replace("Z", "+00:00")
        return Moment(typed, datetime.fromisoformat(f"{found['day']}T{found['time']}{offset}"))
    except ValueError:  # in the form but no date: a month 13, a 30 February, an hour 24, an offset of 25 hours
        raise refused from None


def instant(moment: Moment, zone: ZoneInfo, *, end_of_day: bool = False) -> datetime:
    """The instant (in UTC) `moment` names in `zone`: a date's start, or with `end_of_day` its end (the next day's
    start), so that a date is a whole day either way; a date and time as it is.

    A MomentError for a wall-clock time that never happened in `zone` or happened twice there, naming the
    daylight-saving change and the offset forms to write instead. An OverflowError past the calendar's ends.
    """
    value = moment.value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC)
        return _wall_clock(value, zone).astimezone(UTC)
    day = value + timedelta(days=1) if end_of_day else value
    # fold=0: a midnight the clocks skipped reads as the instant they jumped (the day's first), a midnight they
    # repeated as its first occurrence; either way the day starts when the day before ends.
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _wall_clock(value: datetime, zone: ZoneInfo) -> datetime:
    """`value`, a naive wall-clock time, as the one instant it names in `zone`, or a MomentError."""
    first, second = value.replace(tzinfo=zone, fold=0), value.replace(tzinfo=zone, fold=1)
    before, after = first.utcoffset(), second.utcoffset()
    if before == after or before is None or after is None:
        return first
    shown = _clock(value)
    # Where the offsets differ, the clocks changed between the two readings' instants: find when.
    earlier, later = sorted((first.astimezone(UTC), second.astimezone(UTC)))
    change = _change(earlier, later, zone)
    from_, to = _wall(change, before), _wall(change, after)
    if after > before:  # PEP 495: in a gap fold=0 reads with the offset before the change, fold=1 with the one after
        raise MomentError(
            f"{shown} never happened in {zone.key}: the clocks went forward {_span(from_, to)}; give a time that "
            f"happened, with its UTC offset to be exact, e.g. {_iso(change.astimezone(zone))} (the moment they went "
            "forward)"
        )
    raise MomentError(
        f"{shown} happened twice in {zone.key}: the clocks went back {_span(from_, to)}; give it with its UTC "
        f"offset: {_iso(first)} for the first time, {_iso(second)} for the second"
    )


def _change(earlier: datetime, later: datetime, zone: ZoneInfo) -> datetime:
    """The instant (to the second) between `earlier` and `later` at which `zone`'s UTC offset changed."""
    old = earlier.astimezone(zone).utcoffset()
    while later - earlier > timedelta(seconds=1):
        middle = earlier + (later - earlier) / 2
        if middle.astimezone(zone).utcoffset() == old:
            earlier = middle
        else:
            later = middle
    return later.replace(microsecond=0)


def _wall(change: datetime, offset: timedelta) -> datetime:
    """The wall-clock time at `change` with the clocks at `offset`."""
    return (change + offset).replace(tzinfo=None)


def _span(start: datetime, end: datetime) -> str:
    """'from 02:00 to 03:00 on 2026-03-08', or with both dates when the change crossed midnight."""
    if start.date() == end.date():
        return f"from {start:%H:%M} to {end:%H:%M} on {start:%Y-%m-%d}"
    return f"from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"


def _iso(moment: datetime) -> str:
    """An aware time as ISO 8601 to the minute (or to the second, or millisecond, when it has them): a form
    `parse_moment` takes."""
    spec = "milliseconds" if moment.microsecond else "seconds" if moment.second else "minutes"
    return moment.isoformat(timespec=spec)


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """`moment` as a wall-clock time in `zone`, '2026-11-16 09:00 Asia/Jakarta', with its UTC offset when that
    wall-clock time happened twice there ('2026-11-01 01:30 America/New_York, UTC-04:00')."""
    local = moment.astimezone(zone)
    offset = local.utcoffset()
    if offset is None or local.replace(fold=1 - local.fold).utcoffset() == offset:
        return f"{_clock(local)} {zone.key}"
    minutes = abs(offset) // timedelta(minutes=1)
    sign = "-" if offset < timedelta() else "+"
    return f"{_clock(local)} {zone.key}, UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _clock(moment: datetime) -> str:
    """'2026-11-16 09:00', with the seconds when there are any."""
    return f"{moment:%Y-%m-%d %H:%M}" + (f":{moment:%S}" if moment.second or moment.microsecond else "")
