"""Cron lines as moderators write them: standard weekday numbers (0 and 7 are Sunday), at most hourly, and a day of
the month or a weekday but not both (cron runs on either; APScheduler only on days that are both)."""

import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.digests.schedule import PRESETS, cron_weekdays, make_trigger, next_run, parse_schedule, saved_trigger
from bot.errors import UserFacingError
from bot.storage import GuildSettings

SUNDAY = datetime(2026, 11, 1, tzinfo=UTC)  # 1 November 2026 is a Sunday


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("*", "*"),
        ("0", "sun"),
        ("7", "sun"),
        ("1", "mon"),
        ("6", "sat"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("1-5/2", "mon,wed,fri"),
        ("*/2", "sun,tue,thu,sat"),
        ("*/3", "sun,wed,sat"),
        ("0,6", "sun,sat"),
        ("1,3,5", "mon,wed,fri"),
        ("5-7", "sun,fri,sat"),
        ("0-7", "*"),
        ("mon", "mon"),
        ("MON-Fri", "mon,tue,wed,thu,fri"),
        ("Sat,SUN", "sun,sat"),
        ("sat-sun", "sun,sat"),
        ("mon-sun", "*"),
        ("1-wed,fri", "mon,tue,wed,fri"),
        ("7,0,sun", "sun"),
    ],
)
def test_weekday_fields_are_standard_cron(field, expected):
    assert cron_weekdays(field) == expected


@pytest.mark.parametrize(
    ("weekday", "days"),
    [
        ("1", ["mon"]),
        ("0", ["sun"]),
        ("7", ["sun"]),
        ("1-5", ["mon", "tue", "wed", "thu", "fri"]),
        ("6,0", ["sun", "sat"]),
        ("1-5/2", ["mon", "wed", "fri"]),
        ("*/2", ["sun", "tue", "thu", "sat"]),
        ("Tue,THU", ["tue", "thu"]),
        ("*", ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]),
    ],
)
def test_numeric_weekdays_run_on_those_days(weekday, days):
    trigger = make_trigger(f"0 9 * * {weekday}", "UTC")
    runs = []
    moment = next_run(trigger, SUNDAY)
    while moment is not None and moment < SUNDAY + timedelta(days=7):
        runs.append(moment)
        moment = next_run(trigger, moment + timedelta(hours=1))
    assert [run.strftime("%a").lower() for run in runs] == days
    assert all(run.hour == 9 for run in runs)


def test_presets_keep_their_days():
    assert next_run(make_trigger("weekly", "UTC"), SUNDAY) == datetime(2026, 11, 2, 9, tzinfo=UTC)  # Monday
    assert next_run(make_trigger("daily", "UTC"), SUNDAY) == datetime(2026, 11, 1, 9, tzinfo=UTC)
    assert next_run(make_trigger("monthly", "UTC"), SUNDAY + timedelta(days=1)) == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert PRESETS["weekly"] == "0 9 * * mon"


@pytest.mark.parametrize(
    ("weekday", "message"),
    [
        ("8", "`0 9 * * 8` is not a schedule: `8` is not a weekday; use 0-7 (0 and 7 are Sunday)"),
        ("funday", "`funday` is not a weekday; use 0-7 (0 and 7 are Sunday) or sun, mon, tue"),
        ("monday", "`monday` is not a weekday"),
        ("mon-8", "`8` is not a weekday"),
        ("5-1", "the weekday range `5-1` runs backwards; for days across the weekend use a list"),
        ("fri-mon", "the weekday range `fri-mon` runs backwards"),
        ("1/2", "a step needs `*` or a range before it, e.g. `*/2` or `1-5/2`, not `1/2`"),
        ("*/0", "the step in `*/0` must be a whole number of days"),
        ("1-5/x", "the step in `1-5/x` must be a whole number of days"),
        ("1,,5", "the weekday field has an empty entry"),
        ("-1", "`-1` is not a weekday"),
    ],
)
def test_bad_weekdays_say_what_is_wrong(weekday, message):
    with pytest.raises(UserFacingError) as error:
        make_trigger(f"0 9 * * {weekday}", "UTC")
    assert message in str(error.value)


@pytest.mark.parametrize("cron", ["*/5 * * * *", "* * * * *", "0,30 9 * * *", "*/15 9 * * mon", "0-59 * * * *"])
def test_schedules_more_often_than_hourly_are_refused(cron):
    with pytest.raises(UserFacingError) as error:
        make_trigger(cron, "UTC")
    assert f"`{cron}` runs more than once an hour: digests are weekly by default and at most hourly" in str(error.value)


@pytest.mark.parametrize("cron", ["0 * * * *", "15 */2 * * *", "30 9-17 * * 1-5", "0-0 * * * *"])
def test_hourly_and_rarer_schedules_are_accepted(cron):
    make_trigger(cron, "Europe/Berlin")


def test_a_schedule_that_never_runs_is_refused():
    with pytest.raises(UserFacingError, match="never runs: no month has that day"):
        make_trigger("0 9 30 2 *", "UTC")


def test_a_day_of_the_month_and_a_weekday_together_are_refused_with_both_ways_to_write_it():
    with pytest.raises(UserFacingError) as error:
        parse_schedule("0 9 1 * mon", "Europe/Berlin")
    assert str(error.value) == (
        "`0 9 1 * mon` sets both a day of the month and a weekday: cron runs on either, which this bot's scheduler "
        "cannot do. Give one of them, e.g. `0 9 1 * *` for those days of the month or `0 9 * * mon` for those "
        "weekdays."
    )


@pytest.mark.parametrize(
    ("cron", "by_day", "by_weekday"),
    [
        ("30 17 1,15 * 1-5", "`30 17 1,15 * *`", "`30 17 * * 1-5`"),  # the fields as typed, not as converted
        ("0 9 1-31 * 0-7", "`0 9 1-31 * *`", "`0 9 * * 0-7`"),  # every day to cron, the 1st to 31st to APScheduler
        ("0 9 13 jan fri", "`0 9 13 jan *`", "`0 9 * jan fri`"),
    ],
)
def test_every_restricted_day_and_weekday_pair_is_refused(cron, by_day, by_weekday):
    with pytest.raises(UserFacingError) as error:
        make_trigger(cron, "UTC")
    assert f"`{cron}` sets both a day of the month and a weekday" in str(error.value)
    assert f"e.g. {by_day} for those days of the month or {by_weekday} for those weekdays." in str(error.value)


@pytest.mark.parametrize("cron", ["0 9 1 * *", "0 9 * * mon", "0 9 */2 * mon", "0 9 1 * */2", "monthly", "weekly"])
def test_a_day_or_a_weekday_alone_is_accepted(cron):
    """A field starting with `*` restricts no day to cron, which then needs both to match, as APScheduler does."""
    make_trigger(cron, "Europe/Berlin")


def test_such_a_schedule_saved_before_is_not_used_and_says_why(caplog):
    """Saved by an earlier version, which ran it only on Mondays the 1st: no digest until a moderator changes it
    (the next one then covers everything since the last), rather than a start-up failure or that meaning."""
    settings = GuildSettings(guild_id=7, digest_cron="0 9 1 * mon", digest_timezone="Europe/Berlin")
    with caplog.at_level(logging.WARNING):
        assert saved_trigger(settings) is None
    assert "server 7's saved digest schedule is not used: `0 9 1 * mon` sets both a day of the month" in caplog.text
