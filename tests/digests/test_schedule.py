"""When digests are due: local times across daylight-saving changes, catch-up, contiguous periods."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.digests.schedule import due_period, latest_run, make_trigger, next_run
from bot.errors import UserFacingError


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


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
    assert next_run(trigger, utc(2026, 10, 28)) == utc(2026, 11, 2, 14)
    assert latest_run(trigger, utc(2026, 11, 1)) == utc(2026, 10, 26, 13)


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


@pytest.mark.parametrize(
    ("cron", "timezone", "message"),
    [
        ("every tuesday", "UTC", "is not a schedule"),
        ("0 9 * * mon", "Mars/Olympus", "is not a time zone"),
        ("61 9 * * *", "UTC", "is not a schedule"),
    ],
)
def test_bad_schedules_say_what_is_wrong(cron, timezone, message):
    with pytest.raises(UserFacingError, match=message):
        make_trigger(cron, timezone)
