"""When digests are due: local times across daylight-saving changes, catch-up, contiguous periods."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.digests.schedule import due_period, latest_run, make_trigger, next_run
from bot.errors import UserFacingError


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def fire_times(trigger, start, end):
    """Every time APScheduler itself would run the job in [start, end], in UTC, as the scheduler steps."""
    times = []
    moment = trigger.get_next_fire_time(None, start)
    while moment is not None and moment <= end:
        times.append(moment.astimezone(UTC))
        moment = trigger.get_next_fire_time(moment, moment)
    return times


def test_weekly_fires_monday_nine_local_across_spring_forward():
    trigger = make_trigger("weekly", "Europe/Berlin")
    # Europe moves to summer time on Sunday 29 March 2026: 09:00 local is 08:00 UTC before, 07:00 after.
    before = next_run(trigger, utc(2026, 3, 20, 12))
    after = next_run(trigger, utc(2026, 3, 27, 12))
    assert before == utc(2026, 3, 23, 8)
    assert after == utc(2026, 3, 30, 7)
    assert before.astimezone(trigger.timezone).hour == after.astimezone(trigger.timezone).hour == 9


def test_fall_back_keeps_local_time():
    trigger = make_trigger("0 9 * * mon", "America/New_York")
    # US clocks fall back on Sunday 1 November 2026: 09:00 EDT = 13:00 UTC, 09:00 EST = 14:00 UTC.
    assert next_run(trigger, utc(2026, 11, 1)) == utc(2026, 11, 2, 14)
    assert latest_run(trigger, utc(2026, 11, 1)) == utc(2026, 10, 26, 13)


@pytest.mark.parametrize(
    ("cron", "timezone", "first", "again", "next_day"),
    [
        # Berlin goes back from 03:00 CEST to 02:00 CET on 25 October 2026: 02:00 is 00:00 UTC, then 01:00 UTC.
        ("0 2 * * *", "Europe/Berlin", utc(2026, 10, 25, 0), utc(2026, 10, 25, 1), utc(2026, 10, 26, 1)),
        # New York goes back from 02:00 EDT to 01:00 EST on 1 November 2026: 01:30 is 05:30 UTC, then 06:30 UTC.
        ("30 1 * * *", "America/New_York", utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30), utc(2026, 11, 2, 6, 30)),
    ],
)
def test_daily_time_in_the_repeated_hour_gives_one_digest(cron, timezone, first, again, next_day):
    trigger = make_trigger(cron, timezone)
    assert fire_times(trigger, first - timedelta(hours=2), again) == [first, again]  # APScheduler runs twice
    assert next_run(trigger, first + timedelta(minutes=1)) == next_day
    for now in (first, again, again + timedelta(minutes=30), next_day - timedelta(minutes=1)):
        assert latest_run(trigger, now) == first
    assert latest_run(trigger, next_day) == next_day
    # The second run that day finds the digest sent; the next day's covers the 25 hours since.
    assert due_period(trigger, first, again) is None
    period = due_period(trigger, first, next_day)
    assert period is not None
    assert (period.start, period.end) == (first, next_day)


@pytest.mark.parametrize(
    ("timezone", "midnight", "next_midnight", "hours"),
    [
        # Days with 25 hours (clocks go back) and 23 hours (clocks go forward, an hour that never happens).
        ("Europe/Berlin", utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), [*range(1, 24), 0]),
        ("America/New_York", utc(2026, 11, 1, 4), utc(2026, 11, 2, 5), [*range(1, 24), 0]),
        ("Europe/Berlin", utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), [1, *range(3, 24), 0]),
        ("America/New_York", utc(2026, 3, 8, 5), utc(2026, 3, 9, 4), [1, *range(3, 24), 0]),
    ],
)
def test_hourly_sends_one_digest_per_local_hour_across_clock_changes(timezone, midnight, next_midnight, hours):
    trigger = make_trigger("0 * * * *", timezone)
    zone = ZoneInfo(timezone)
    last_end = midnight
    periods = []
    for now in fire_times(trigger, midnight + timedelta(seconds=1), next_midnight):
        period = due_period(trigger, last_end, now)
        if period is not None:
            assert period.start == last_end
            assert period.end == now  # sent when due, not an hour late
            periods.append(period)
            last_end = period.end
    assert [period.end.astimezone(zone).hour for period in periods] == hours
    assert last_end == next_midnight


@pytest.mark.parametrize(
    ("timezone", "before", "skipped_day", "after"),
    [
        # 02:30 does not happen on the day clocks go forward: that day's digest comes at 03:30 summer time.
        ("America/New_York", utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)),
        ("Europe/Berlin", utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)),
    ],
)
def test_time_in_the_skipped_hour_runs_once_that_day(timezone, before, skipped_day, after):
    trigger = make_trigger("30 2 * * *", timezone)
    assert skipped_day.astimezone(trigger.timezone).hour == 3
    assert fire_times(trigger, before, after) == [before, skipped_day, after]
    assert next_run(trigger, before + timedelta(minutes=1)) == skipped_day
    assert latest_run(trigger, skipped_day - timedelta(minutes=1)) == before
    # Searched from just after the skipped hour too, where APScheduler alone would miss the 03:30 run.
    for now in (skipped_day, skipped_day + timedelta(hours=1, minutes=45), after - timedelta(minutes=1)):
        assert latest_run(trigger, now) == skipped_day
    period = due_period(trigger, before, skipped_day + timedelta(minutes=5))
    assert period is not None
    assert (period.start, period.end) == (before, skipped_day)


@pytest.mark.parametrize("cron", ["30 1 * * *", "0 2 * * *", "30 2 * * *", "0 * * * *", "45 */2 * * 0"])
@pytest.mark.parametrize(
    ("timezone", "day"),
    [
        pytest.param("Europe/Berlin", utc(2026, 3, 29), id="berlin-forward"),
        pytest.param("Europe/Berlin", utc(2026, 10, 25), id="berlin-back"),
        pytest.param("America/New_York", utc(2026, 3, 8), id="new-york-forward"),
        pytest.param("America/New_York", utc(2026, 11, 1), id="new-york-back"),
    ],
)
def test_latest_run_is_the_last_of_the_scheduled_times(cron, timezone, day):
    trigger = make_trigger(cron, timezone)
    zone = ZoneInfo(timezone)
    start = day - timedelta(days=8)
    # The schedule as the scheduler walks it, each local time counted at its first occurrence.
    times = [t for t in fire_times(trigger, start, day + timedelta(days=2)) if t.astimezone(zone).fold == 0]
    now = day - timedelta(hours=6)
    while now < day + timedelta(days=1, hours=6):
        assert latest_run(trigger, now) == max(t for t in times if t <= now), now
        now += timedelta(minutes=25)


@pytest.mark.parametrize(
    ("cron", "most"),
    [("0 * * * *", 8), ("0 9 * * *", 12), ("0 9 * * mon", 20), ("0 9 1 * *", 25), ("0 9 1 1 *", 30)],
)
def test_latest_run_takes_few_trigger_steps(monkeypatch, cron, most):
    trigger = make_trigger(cron, "America/New_York")
    steps = []
    step = CronTrigger.get_next_fire_time

    def counted(self, previous, now):
        steps.append(now)
        return step(self, previous, now)

    monkeypatch.setattr(CronTrigger, "get_next_fire_time", counted)
    now = utc(2026, 11, 1, 6, 10)  # in the repeated hour in New York
    for offset in range(0, 24 * 400, 97):
        steps.clear()
        assert latest_run(trigger, now + timedelta(hours=offset)) is not None
        assert len(steps) <= most


def test_due_period_is_contiguous_and_none_once_covered():
    trigger = make_trigger("weekly", "Asia/Jakarta")  # UTC+7, no daylight saving
    now = utc(2026, 11, 23, 3)  # Monday 10:00 in Jakarta
    first = due_period(trigger, None, now)
    assert first is not None
    assert (first.start, first.end) == (utc(2026, 11, 16, 2), utc(2026, 11, 23, 2))
    assert due_period(trigger, first.end, now) is None  # already sent: a restart sends nothing
    later = due_period(trigger, first.end, now + timedelta(days=7))
    assert later is not None
    assert later.start == first.end


def test_missed_runs_are_caught_up_once():
    trigger = make_trigger("weekly", "UTC")
    last_end = utc(2026, 11, 2, 9)
    # The bot was down for three scheduled times: one digest covers everything since the last one.
    period = due_period(trigger, last_end, utc(2026, 11, 25, 12))
    assert period is not None
    assert (period.start, period.end) == (last_end, utc(2026, 11, 23, 9))
    assert due_period(trigger, period.end, utc(2026, 11, 25, 12)) is None


def test_rare_schedules_are_found_up_to_lookback():
    assert latest_run(make_trigger("0 9 1 1 *", "UTC"), utc(2026, 12, 31)) == utc(2026, 1, 1, 9)
    leap_day = make_trigger("0 9 29 2 *", "UTC")
    assert latest_run(leap_day, utc(2026, 12, 31)) is None  # the last one is more than LOOKBACK ago
    assert latest_run(leap_day, utc(2029, 1, 1)) == utc(2028, 2, 29, 9)


@pytest.mark.parametrize(
    ("cron", "timezone", "message"),
    [
        ("every tuesday", "UTC", "is not a schedule"),
        ("0 9 * * mon", "Mars/Olympus", "is not a time zone"),
        ("weekly", "Asia", "`Asia` is not a time zone"),  # a region's folder in the tz database
        ("weekly", "x" * 300, "is not a time zone"),  # longer than a file name can be
        ("61 9 * * *", "UTC", "is not a schedule"),
    ],
)
def test_bad_schedules_say_what_is_wrong(cron, timezone, message):
    with pytest.raises(UserFacingError, match=message):
        make_trigger(cron, timezone)


def test_a_time_zone_with_stray_spaces_is_taken():
    assert str(make_trigger("weekly", " Asia/Jakarta ").timezone) == "Asia/Jakarta"


def test_a_digest_is_compared_with_the_schedules_previous_period_not_an_equally_long_span():
    from bot.digests.schedule import Period, comparison_start

    berlin = make_trigger("weekly", "Europe/Berlin")
    # The week clocks spring forward is 167 hours: compared with the whole week before (168), which started at
    # 09:00 local on 16 March (08:00 UTC), not an hour into it.
    spring = Period(utc(2026, 3, 23, 8), utc(2026, 3, 30, 7))
    assert comparison_start(berlin, spring) == utc(2026, 3, 16, 8)
    # The week after: 168 hours, after the 167-hour week, compared with all of it (not an hour before it).
    after = Period(utc(2026, 3, 30, 7), utc(2026, 4, 6, 7))
    assert comparison_start(berlin, after) == utc(2026, 3, 23, 8)
    # A month is compared with the month before: March with February, not 29 January to 1 March.
    monthly = make_trigger("0 9 1 * *", "UTC")
    assert comparison_start(monthly, Period(utc(2026, 3, 1, 9), utc(2026, 4, 1, 9))) == utc(2026, 2, 1, 9)
    # Not one interval of the schedule (a catch-up of three weeks, an export's range, a schedule changed since, or
    # none): the equally long span before it.
    catch_up = Period(utc(2026, 3, 2, 8), utc(2026, 3, 23, 8))
    assert comparison_start(berlin, catch_up) == utc(2026, 2, 9, 8)
    export = Period(utc(2026, 3, 4), utc(2026, 3, 6))
    assert comparison_start(berlin, export) == utc(2026, 3, 2)
    assert comparison_start(None, spring) == spring.start - (spring.end - spring.start)


async def test_a_monthly_digest_reads_the_month_before_as_its_previous_period(storage):
    """Through storage, as the digest (thread and worker paths alike) and `culturebot digest` read it."""
    import sqlite3

    from bot.digests.schedule import Period
    from bot.digests.service import period_rows, previous_start
    from bot.storage import sqlite_timestamp

    await storage.update_guild_settings(7, 1, {"digest_cron": "0 9 1 * *", "digest_timezone": "UTC"}, detail="test")
    with sqlite3.connect(storage.path) as conn:
        for answer_id, asked in ((1, utc(2026, 1, 30, 12)), (2, utc(2026, 2, 10, 12)), (3, utc(2026, 3, 10, 12))):
            conn.execute(
                "INSERT INTO answers (answer_id, guild_id, channel_id, asker_hash, question, answer, model, outcome, "
                "created_at) VALUES (?, 7, 100, 'asker', 'q', 'a', 'm', 'ok', ?)",
                (answer_id, sqlite_timestamp(asked)),
            )
    march = Period(utc(2026, 3, 1, 9), utc(2026, 4, 1, 9))
    assert await previous_start(storage, 7, march) == utc(2026, 2, 1, 9)
    current, previous = await period_rows(storage, 7, march)
    assert [a.answer_id for a in current.answers] == [3]
    # February's answer only: 30 January lies in the 31 days before March, not in February.
    assert previous.start == sqlite_timestamp(utc(2026, 2, 1, 9))
    assert [a.answer_id for a in previous.answers] == [2]


def test_a_long_schedule_saved_by_an_earlier_version_still_runs_while_a_typed_one_is_refused():
    from bot.digests.schedule import make_trigger, parse_schedule
    from bot.errors import UserFacingError

    long_line = "0 " + ",".join(str(h) for h in range(24)) + " 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 * *"
    assert len(long_line) > 100
    assert make_trigger(long_line, "UTC") is not None
    with pytest.raises(UserFacingError, match="too long for a schedule"):
        parse_schedule(long_line, "UTC")
