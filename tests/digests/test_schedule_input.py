"""Schedules, time zones and date ranges as people type or paste them: quotes, stray spaces, any capitalisation,
offsets; every refusal names the field or option, what is allowed and how to fix it."""

from datetime import UTC, date, datetime

import pytest

from bot.digests.offline import day_period
from bot.digests.schedule import check_day_range, parse_schedule, parse_timezone, unquote
from bot.digests.service import export_timezone
from bot.errors import UserFacingError
from bot.storage import GuildSettings


def refusal(cron: str, timezone: str = "UTC") -> str:
    with pytest.raises(UserFacingError) as error:
        parse_schedule(cron, timezone)
    return str(error.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'0 9 * * mon'", "0 9 * * mon"),
        ('"0 9 * * mon"', "0 9 * * mon"),
        ("`0 9 * * mon`", "0 9 * * mon"),
        ("‘0 9 * * mon’", "0 9 * * mon"),  # a phone's typographic quotes
        ("“0 9 * * mon”", "0 9 * * mon"),
        (" '`0 9 * * mon`' ", "0 9 * * mon"),
        ("'0 9 * * mon", "0 9 * * mon"),  # one quote left behind
        ("0 9 * * mon", "0 9 * * mon"),
    ],
)
def test_quotes_pasted_around_a_value_are_removed(text, expected):
    assert unquote(text) == expected


@pytest.mark.parametrize(
    ("when", "cron"),
    [
        ("'0 9 * * mon'", "0 9 * * mon"),
        ("`0 9 * * 1-5`", "0 9 * * 1-5"),
        ("'weekly'", "0 9 * * mon"),
        ('"Daily"', "0 9 * * *"),
        ("0  9 *  * mon", "0 9 * * mon"),
    ],
)
def test_a_quoted_schedule_is_the_schedule(when, cron):
    schedule = parse_schedule(when, "UTC")
    assert schedule.cron == cron
    assert schedule.trigger is not None


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("asia/jakarta", "Asia/Jakarta"),
        ("ASIA/JAKARTA", "Asia/Jakarta"),
        (" Asia/Jakarta ", "Asia/Jakarta"),
        ("'Europe/Berlin'", "Europe/Berlin"),
        ("`america/new_york`", "America/New_York"),
        ("utc", "UTC"),
        ("UTC", "UTC"),
    ],
)
def test_time_zones_are_matched_whatever_the_case_and_spelled_as_the_tz_database_does(typed, canonical):
    assert parse_timezone(typed) == canonical
    schedule = parse_schedule("weekly", typed)
    assert schedule.timezone == canonical
    assert str(schedule.trigger.timezone) == canonical


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("Asia/Jakarte", "did you mean `Asia/Jakarta`"),
        ("jakarta", "did you mean `Asia/Jakarta`?"),
        ("new york", "did you mean `America/New_York`?"),
        ("Europe/Berln", "`Europe/Berlin`"),
    ],
)
def test_an_unknown_time_zone_suggests_the_closest_names(typed, suggested):
    with pytest.raises(UserFacingError) as error:
        parse_timezone(typed)
    assert str(error.value).startswith(f"`{typed}` is not a time zone: ")
    assert suggested in str(error.value)


@pytest.mark.parametrize("offset", ["UTC+7", "GMT-3", "+07:00", "utc+5:30", "UTC −3", "-0300"])
def test_offsets_are_refused_with_the_reason_and_a_city_zone(offset):
    with pytest.raises(UserFacingError) as error:
        parse_timezone(offset)
    message = str(error.value)
    assert message.startswith(f"`{offset}` is an offset, not a time zone: offsets are not accepted because they ignore")
    assert "daylight saving" in message and "Use your city's IANA time zone, e.g. `" in message


def test_an_offset_suggests_zones_at_that_offset():
    with pytest.raises(UserFacingError) as error:
        parse_timezone("UTC+7")
    assert "`Asia/Bangkok`" in str(error.value)  # UTC+7 all year


@pytest.mark.parametrize(
    ("typed", "message", "suggested"),
    [
        ("EST", "`EST` is a fixed offset (UTC-5 all year) that ignores daylight saving: use your city's", "America/"),
        ("Etc/GMT-7", "`Etc/GMT-7` is a fixed offset (UTC+7: the Etc names' signs are reversed)", "`Asia/Bangkok`"),
        ("etc/gmt+5", "`Etc/GMT+5` is a fixed offset (UTC-5: the Etc names' signs are reversed)", "America/"),
        ("MST7MDT", "`MST7MDT` is an old abbreviation-style name, not a place: use your city's", "America/"),
        ("CET", "`CET` is an old abbreviation-style name, not a place", "Europe/"),
        ("Factory", "`Factory` is a placeholder, not a time zone: use an IANA name", "Asia/Jakarta"),
    ],
)
def test_time_zones_that_are_no_place_are_refused_when_typed(typed, message, suggested):
    with pytest.raises(UserFacingError) as error:
        parse_timezone(typed)
    assert str(error.value).startswith(message)
    assert suggested in str(error.value)
    with pytest.raises(UserFacingError):
        parse_schedule("weekly", typed)


@pytest.mark.parametrize("typed", ["UTC", "Etc/UTC", "GMT", "Etc/GMT+0", "Japan", "US/Eastern"])
def test_utc_and_links_to_places_are_still_accepted(typed):
    assert parse_timezone(typed)


def test_a_saved_schedule_in_a_zone_no_longer_accepted_keeps_running():
    """Saved by an earlier version that took it: the digests go on until a moderator changes it."""
    from bot.digests.schedule import make_trigger

    trigger = make_trigger("weekly", "EST")
    assert str(trigger.timezone) == "EST"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "No time zone given: use an IANA name such as `Asia/Jakarta`"),
        ("''", "No time zone given"),
        ("Asia", "`Asia` is not a time zone but a region: add the city, as in `Asia/Jakarta`"),
        ("Mars/Olympus", "`Mars/Olympus` is not a time zone; use an IANA name such as `Asia/Jakarta`"),
    ],
)
def test_other_time_zone_refusals_say_what_to_write(typed, message):
    with pytest.raises(UserFacingError) as error:
        parse_timezone(typed)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("0 25 * * *", "`0 25 * * *` is not a schedule: hour `25` is out of range: use 0-23."),
        ("61 9 * * *", "minute `61` is out of range: use 0-59."),
        ("0 9 32 * *", "day of month `32` is out of range: use 1-31."),
        ("0 9 0 * *", "day of month `0` is out of range: use 1-31."),
        ("0 9 1 13 *", "month `13` is out of range: use 1-12 or jan-dec."),
        ("0 9-30 * * *", "hour `30` is out of range: use 0-23."),
        ("0 1,2,24 * * *", "hour `24` is out of range: use 0-23."),
        ("0 */0 * * *", "the step in hour `*/0` must be from 1 to 23"),
        ("0 9 1 */13 *", "the step in month `*/13` must be from 1 to 11"),
        ("0 22-2 * * *", "the hour range `22-2` runs backwards: put the smaller number first, or split a range"),
        ("x 9 * * *", "minute `x` is not valid: use a number from 0 to 59, `*`, a range such as"),
        ("0 9 1 jan-foo *", "month `jan-foo` is not valid: use a number from 1 to 12 or jan-dec"),
        ("0 9 * *", "`0 9 * *` is not a schedule: it has 4 fields; use `weekly`, `daily`, `monthly` or a cron"),
        ("''", "No schedule given: use `weekly`"),
    ],
)
def test_a_bad_cron_field_is_named_with_its_range(cron, message):
    text = refusal(cron)
    assert message in text
    assert "Error validating" not in text and "maximum value" not in text  # none of APScheduler's own words


def test_a_bad_field_in_quotes_is_echoed_without_them():
    assert refusal("'0 25 * * *'") == "`0 25 * * *` is not a schedule: hour `25` is out of range: use 0-23."


def test_a_bad_time_zone_is_reported_before_the_schedule():
    assert refusal("weekly", "asia/jakarte").startswith("`asia/jakarte` is not a time zone: did you mean")


def test_day_period_takes_a_time_zone_as_typed():
    assert day_period(date(2026, 1, 1), date(2026, 1, 1), " asia/jakarta ") == day_period(
        date(2026, 1, 1), date(2026, 1, 1), "Asia/Jakarta"
    )


def test_export_dates_are_the_servers_days_unless_a_time_zone_is_typed():
    jakarta = GuildSettings(guild_id=1, digest_timezone="Asia/Jakarta")
    assert export_timezone(None, jakarta) == "Asia/Jakarta"
    assert export_timezone(None, GuildSettings(guild_id=1)) == "UTC"  # no schedule set
    assert export_timezone(" utc ", jakarta) == "UTC"
    with pytest.raises(UserFacingError, match="`CET` is an old abbreviation-style name"):
        export_timezone("CET", jakarta)


def test_export_dates_in_a_saved_zone_no_longer_taken_when_typed_are_read_in_it():
    """The researcher typed nothing: a digest time zone an earlier version took is the server's days all the same."""
    zone = export_timezone(None, GuildSettings(guild_id=1, digest_timezone="EST"))
    assert zone == "EST"
    day = day_period(date(2026, 1, 1), date(2026, 1, 1), zone, saved=True)
    assert (day.start, day.end) == (datetime(2026, 1, 1, 5, tzinfo=UTC), datetime(2026, 1, 2, 5, tzinfo=UTC))


def check(first: str, last: str, max_years: int | None = 10) -> None:
    check_day_range(
        date.fromisoformat(first), date.fromisoformat(last), start="`start`", end="`end`", max_years=max_years
    )


def test_a_range_that_runs_backwards_says_to_swap_the_dates():
    with pytest.raises(UserFacingError) as error:
        check("2026-12-31", "2026-01-01")
    assert str(error.value) == "`end` 2026-01-01 is before `start` 2026-12-31: swap them."


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        (
            "2000-01-01",
            "2026-12-31",
            "2000-01-01 to 2026-12-31 is 27 years; export at most 10 years at a time, e.g. 2000-01-01 to "
            "2009-12-31, then from 2010-01-01.",
        ),
        ("2016-01-01", "2026-01-10", "2016-01-01 to 2026-01-10 is 10 years and 10 days; export at most 10 years"),
        ("2016-02-29", "2026-03-01", "2016-02-29 to 2026-03-01 is 10 years and 1 day; export at most 10 years"),
    ],
)
def test_a_range_too_long_says_how_long_it_is_and_how_to_split_it(first, last, message):
    with pytest.raises(UserFacingError) as error:
        check(first, last)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("2026-01-01", "2026-01-01"),
        ("2016-01-01", "2025-12-31"),
        ("0002-01-01", "0011-12-31"),
        ("9990-01-01", "9998-12-31"),
    ],
)
def test_ranges_of_up_to_ten_years_are_taken(first, last):
    check(first, last)


def test_without_a_limit_only_the_order_is_checked():
    check("0002-01-01", "9998-12-31", max_years=None)
