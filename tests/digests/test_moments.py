"""`culturebot digest`'s --from, --to and --feedback-until as typed: a date is a whole day, a date and time an exact
instant in the time zone unless it carries its own offset, and a wall-clock time a daylight-saving change made
ambiguous is refused with the offset forms to give instead."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.digests.moments import MOMENT_FORMS, MomentError, instant, local_time, parse_moment

JAKARTA = ZoneInfo("Asia/Jakarta")  # UTC+07:00, no daylight saving
NEW_YORK = ZoneInfo("America/New_York")  # 2026: forward 8 March 02:00 -> 03:00, back 1 November 02:00 -> 01:00


def utc(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def read(text: str, zone: ZoneInfo = JAKARTA, *, end_of_day: bool = False) -> datetime:
    return instant(parse_moment(text), zone, end_of_day=end_of_day)


def refusal(text: str, zone: ZoneInfo) -> str:
    with pytest.raises(MomentError) as error:
        read(text, zone)
    return str(error.value)


def test_a_date_is_a_whole_day_in_the_time_zone():
    moment = parse_moment("2026-11-16")
    assert moment.whole_day and moment.value == date(2026, 11, 16)
    assert instant(moment, JAKARTA) == utc(2026, 11, 15, 17)  # the day's start
    assert instant(moment, JAKARTA, end_of_day=True) == utc(2026, 11, 16, 17)  # its end: the next day's start


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-16T09:00",
        "2026-11-16 09:00",
        "2026-11-16t09:00",
        "2026-11-16  09:00",  # a space doubled in pasting
        " '2026-11-16 09:00' ",  # quoted to get the space through a shell, and pasted with the quotes
        "2026-11-16T09:00:00",
        "2026-11-16T09:00:00.000",
    ],
)
def test_a_date_and_time_is_that_instant_in_the_time_zone(text):
    moment = parse_moment(text)
    assert not moment.whole_day
    assert read(text) == utc(2026, 11, 16, 2)
    assert read(text, end_of_day=True) == utc(2026, 11, 16, 2)  # an end given as a time is that instant


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-16T09:00+07:00",
        "2026-11-16 09:00+0700",
        "2026-11-16T09:00+07",
        "2026-11-15T21:00−05:00",  # a typographic minus sign
        "2026-11-16T02:00Z",
        "2026-11-16T02:00z",
        "2026-11-16T02:00:00.000Z",  # as `start` and `end` are in digest.json
    ],
)
def test_an_offset_or_z_overrides_the_time_zone(text):
    assert read(text, NEW_YORK) == utc(2026, 11, 16, 2)
    assert read(text, JAKARTA) == utc(2026, 11, 16, 2)


def test_seconds_and_milliseconds_are_kept():
    assert read("2026-11-16T02:00:30.250Z") == utc(2026, 11, 16, 2, 0, 30, 250_000)


def test_a_time_the_clocks_skipped_is_refused_with_the_change_and_an_offset_form():
    assert refusal("2026-03-08T02:30", NEW_YORK) == (
        "2026-03-08 02:30 never happened in America/New_York: the clocks went forward from 02:00 to 03:00 on "
        "2026-03-08; give a time that happened, with its UTC offset to be exact, e.g. 2026-03-08T03:00-04:00 (the "
        "moment they went forward)"
    )
    assert read("2026-03-08T03:00-04:00", NEW_YORK) == read("2026-03-08T03:00", NEW_YORK) == utc(2026, 3, 8, 7)
    assert read("2026-03-08T01:59", NEW_YORK) == utc(2026, 3, 8, 6, 59)  # just before the gap: as typed


def test_a_time_the_clocks_repeated_is_refused_with_both_offset_forms():
    assert refusal("2026-11-01 01:30", NEW_YORK) == (
        "2026-11-01 01:30 happened twice in America/New_York: the clocks went back from 02:00 to 01:00 on "
        "2026-11-01; give it with its UTC offset: 2026-11-01T01:30-04:00 for the first time, "
        "2026-11-01T01:30-05:00 for the second"
    )
    first, second = read("2026-11-01T01:30-04:00", NEW_YORK), read("2026-11-01T01:30-05:00", NEW_YORK)
    assert (first, second) == (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30))
    # Shown back with the offset that tells the two apart.
    assert local_time(first, NEW_YORK) == "2026-11-01 01:30 America/New_York, UTC-04:00"
    assert local_time(second, NEW_YORK) == "2026-11-01 01:30 America/New_York, UTC-05:00"
    assert local_time(utc(2026, 11, 16, 2), JAKARTA) == "2026-11-16 09:00 Asia/Jakarta"


def test_a_change_of_half_an_hour_or_a_whole_day_is_named_as_it_was():
    assert refusal("2026-10-04T02:15", ZoneInfo("Australia/Lord_Howe")).startswith(
        "2026-10-04 02:15 never happened in Australia/Lord_Howe: the clocks went forward from 02:00 to 02:30 on "
        "2026-10-04; give a time that happened, with its UTC offset to be exact, e.g. 2026-10-04T02:30+11:00"
    )
    assert refusal("2011-12-30T12:00", ZoneInfo("Pacific/Apia")).startswith(
        "2011-12-30 12:00 never happened in Pacific/Apia: the clocks went forward from 2011-12-30 00:00 to "
        "2011-12-31 00:00;"
    )


def test_a_day_whose_midnight_the_clocks_skipped_starts_when_the_day_before_ends():
    santiago = ZoneInfo("America/Santiago")  # 2026-09-06: forward from 00:00 to 01:00
    assert refusal("2026-09-06T00:30", santiago).startswith("2026-09-06 00:30 never happened in America/Santiago")
    day = instant(parse_moment("2026-09-06"), santiago)
    assert day == instant(parse_moment("2026-09-05"), santiago, end_of_day=True) == utc(2026, 9, 6, 4)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "next monday",
        "16/11/2026",
        "2026-13-01",
        "2026-02-30",
        "2026-11-16T9:00",
        "2026-11-16T24:00",
        "2026-11-16T09",
        "2026-11-16T09:00+25:00",
        "2026-11-16+07:00",  # an offset needs a time
        "2026-11-16T09:00 Asia/Jakarta",  # the time zone is --timezone
        "2026-11-16T09:00:00.0001Z",  # finer than the database keeps
        "20261116",
        "2026-W47-1",
        "2026-11-16x09:00",
    ],
)
def test_anything_else_is_refused_with_the_forms_accepted(text):
    with pytest.raises(MomentError) as error:
        parse_moment(text)
    assert str(error.value) == f"{text!r} is not a date or a date and time; {MOMENT_FORMS}"
    assert "YYYY-MM-DD (a whole day)" in MOMENT_FORMS and "2026-11-16T02:00Z" in MOMENT_FORMS
