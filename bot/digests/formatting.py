"""How the digest's numbers read in reports: "62% (95% CI 51–72%)", "+5 pts (95% CI −3 to +12)"."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.digests.model import (
    COMBINED,
    EXACT,
    FEW_ANSWERS,
    FEW_ARM_MEMBERS,
    NEGLIGIBLE,
    NO_SPREAD,
    ONE_ANSWER,
    ONE_MEMBER,
    Difference,
    Estimate,
)
from bot.feedback.scales import FIT3, LIKERT5

MINUS = "−"
NO_VALUE = "—"


def percent(share: float | None) -> str:
    """A share as a whole percent, halves rounded up (12.5% reads 13%, as most readers and R's `sprintf` workarounds
    expect, not to the even 12%), except near the ends: 99.6% is not shown as 100%, nor 0.4% as 0%."""
    if share is None:
        return NO_VALUE
    whole = _rounded(share * 100, 0, 0, halves_out=True)
    if (whole == 100 and share < 1) or (whole == 0 and share > 0):
        tenth = _rounded(share * 100, 1, 0, halves_out=True)
        if tenth >= 100:
            return ">99.9%"
        if tenth <= 0:
            return "<0.1%"
        return f"{tenth:.1f}%"
    return f"{whole:.0f}%"


def column_percents(counts: Sequence[int]) -> list[str]:
    """Each count's share of their total, rounded on its own as `percent` rounds (so equal counts read alike, and a
    share reads as the summary's shares do); the column may therefore add up to 99% or 101%."""
    total = sum(counts)
    if total <= 0:
        return [NO_VALUE for _ in counts]
    return [percent(count / total) for count in counts]


EXTRA_DIGITS = 10  # at most this many more decimals for a number that is not zero: enough for NEGLIGIBLE


def _rounded(number: float, digits: int, toward: int, *, halves_out: bool = False) -> float:
    """To `digits` decimals: the nearest (toward 0), down (-1) or up (1). `halves_out`: the nearest with halves away
    from zero, as `percent` rounds shares, rather than to the even digit as `round` (and the mean fits' format)."""
    if not toward and halves_out:
        step = 10.0**digits
        # The epsilon absorbs binary error: 0.285 * 100 is 28.4999…, a half.
        return math.copysign(math.floor(abs(number) * step + 0.5 + 1e-9) / step, number)
    if not toward:
        return round(number, digits)
    step = 10.0**digits
    if toward < 0:
        return math.floor(number * step + 1e-9) / step
    return math.ceil(number * step - 1e-9) / step


def _signed(number: float, digits: int, *, scale: float = 1, toward: int = 0) -> str:
    """`number` with its sign, to `digits` decimals rounded as `toward` says (`_rounded`). `scale`: what a value on
    0..1 was multiplied by (100 for points). A number that is not zero is never shown as 0: it gets the decimals
    its first digit needs ("+0.003", not "0.00"), so a bound just above zero reads as above it, as the notes read
    it (`side_of_zero`); one within NEGLIGIBLE of zero is zero for both."""
    if abs(number) < NEGLIGIBLE * scale:
        number = 0.0
    shown = digits
    halves_out = scale == 100  # percentage points: rounded as the shares they are the difference of
    rounded = _rounded(number, shown, toward, halves_out=halves_out)
    while rounded == 0 and number != 0 and shown < digits + EXTRA_DIGITS:
        shown += 1
        rounded = _rounded(number, shown, toward, halves_out=halves_out)
    text = f"{abs(rounded):.{shown}f}"
    if rounded == 0:
        return text
    return ("+" if rounded > 0 else MINUS) + text


def _no_interval(estimate: Estimate) -> str:
    if estimate.interval == NO_SPREAD:
        return "no interval: every resample gives the same value"
    if estimate.interval == ONE_MEMBER:
        return "no interval: one asking member"
    if estimate.interval == ONE_ANSWER or estimate.answers == 1:
        return "no interval: one rated answer"
    if estimate.interval == FEW_ANSWERS:
        return f"no interval: {estimate.answers} rated answers, too few to resample"
    if estimate.interval == FEW_ARM_MEMBERS:
        return "no interval: too few asking members to resample"
    return "no interval"


# Why a difference has no interval: the reason of a side (`Difference.interval`).
NO_DIFFERENCE_REASON = {
    ONE_ANSWER: "a side has one rated answer",
    ONE_MEMBER: "a side has one asking member",
    FEW_ANSWERS: "a side has too few rated answers to resample",
    FEW_ARM_MEMBERS: "a side has too few asking members to resample",
    NO_SPREAD: "every resample of a side gives the same value",
}
_NO_DIFFERENCE_INTERVAL = {reason: f"no interval: {text}" for reason, text in NO_DIFFERENCE_REASON.items()}


def _no_difference_interval(difference: Difference) -> str:
    return _NO_DIFFERENCE_INTERVAL.get(difference.interval, "no interval")


def _at_bound(estimate: Estimate, share: bool) -> str:
    """Why an exact interval stands in for the bootstrap's: where every rating is."""
    if estimate.value == 1:
        return "every rating at the top"
    return "no rating at the top" if share else "every rating at the bottom"


def _outward(low: float, high: float, scale: float, digits: int) -> tuple[float, float]:
    """Bounds rounded away from each other: an exact bound shown as 86% must not claim more than it is."""
    step = 10**digits
    return math.floor(low * scale * step + 1e-9) / step, math.ceil(high * scale * step - 1e-9) / step


def share_with_ci(estimate: Estimate) -> str:
    """A share in percent with its interval, e.g. "62% (95% CI 51–72%)"; at 0% or 100% with every resample alike,
    the exact interval and why, e.g. "100% (every rating at the top: exact 95% CI 86–100%)"."""
    if estimate.value is None:
        return NO_VALUE
    if estimate.low is None or estimate.high is None:
        return f"{percent(estimate.value)} ({_no_interval(estimate)})"
    value = percent(estimate.value)
    if estimate.interval == EXACT:
        low, high = _outward(estimate.low, estimate.high, 100, 0)
        return f"{value} ({_at_bound(estimate, True)}: exact 95% CI {low:.0f}–{high:.0f}%)"
    # The bounds to the value's precision, and never past it: 99.9% with an interval shown as "100–100%" reads
    # as an interval that leaves its own estimate out.
    digits = 1 if "." in value else 0
    shown = _rounded(estimate.value * 100, digits, 0, halves_out=True)  # as `percent` rounds the value itself
    low = min(_rounded(estimate.low * 100, digits, 0, halves_out=True), shown)
    high = max(_rounded(estimate.high * 100, digits, 0, halves_out=True), shown)
    return f"{value} (95% CI {low:.{digits}f}–{high:.{digits}f}%)"


def fit_with_ci(estimate: Estimate) -> str:
    """A mean fit on 0..1 with its interval, e.g. "0.62 (95% CI 0.55–0.70)"; at 0 or 1, the exact interval and
    why, e.g. "1.00 (every rating at the top: exact 95% CI 0.86–1.00)"."""
    if estimate.value is None:
        return NO_VALUE
    if estimate.low is None or estimate.high is None:
        return f"{estimate.value:.2f} ({_no_interval(estimate)})"
    if estimate.interval == EXACT:
        low, high = _outward(estimate.low, estimate.high, 1, 2)
        return f"{estimate.value:.2f} ({_at_bound(estimate, False)}: exact 95% CI {low:.2f}–{high:.2f})"
    return f"{estimate.value:.2f} (95% CI {estimate.low:.2f}–{estimate.high:.2f})"


def fit_value(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:.2f}"


def share_change(difference: Difference | None) -> str:
    """A change of a share in percentage points, e.g. "+5 pts (95% CI −3 to +12)"."""
    if difference is None or difference.value is None:
        return NO_VALUE
    head = f"{_signed(difference.value * 100, 0, scale=100)} pts"
    if difference.low is None or difference.high is None:
        return f"{head} ({_no_difference_interval(difference)})"
    return f"{head} (95% CI {_difference_bounds(difference, 100, 0)})"


def fit_change(difference: Difference | None) -> str:
    """A change of mean fit, e.g. "+0.05 (95% CI −0.03 to +0.12)"."""
    if difference is None or difference.value is None:
        return NO_VALUE
    head = _signed(difference.value, 2)
    if difference.low is None or difference.high is None:
        return f"{head} ({_no_difference_interval(difference)})"
    return f"{head} (95% CI {_difference_bounds(difference, 1, 2)})"


def _difference_bounds(difference: Difference, scale: float, digits: int) -> str:
    """The bounds on the shown scale, "−3 to +12": a combined interval (from an exact side) rounded outward, as
    exact ones. A bound off zero never shows as 0 (`_signed`): "0.00 to +0.08" for a lower bound of +0.003 would
    contradict a note saying that the interval excludes no change."""
    assert difference.low is not None
    assert difference.high is not None
    outward = difference.interval == COMBINED
    low = _signed(difference.low * scale, digits, scale=scale, toward=-1 if outward else 0)
    high = _signed(difference.high * scale, digits, scale=scale, toward=1 if outward else 0)
    return f"{low} to {high}"


def count_change(now: int, before: int | None) -> str:
    if before is None:
        return NO_VALUE
    return _signed(float(now - before), 0) if now != before else "0"


def scale_sizes(scales: Collection[int]) -> str:
    """(3,) -> "3-point"; (3, 5) -> "3- and 5-point"."""
    ordered = [f"{size}-" for size in sorted(set(scales))]
    if not ordered:
        return NO_VALUE
    head = ", ".join(ordered[:-1])
    return (f"{head} and " if head else "") + f"{ordered[-1]}point"


def scale_label(scale_size: int, value: int) -> str:
    """The rating's label on the bot's scales ("Partly fits"), else the bare value."""
    scale = {FIT3.size: FIT3, LIKERT5.size: LIKERT5}.get(scale_size)
    return scale.label_of(value) if scale is not None else str(value)


def timestamp(text: str | None) -> str:
    """ "2026-11-23T09:00:00.000Z" → "2026-11-23 09:00 UTC"."""
    if not text:
        return NO_VALUE
    if len(text) >= 16 and text[10] == "T":
        return f"{text[:10]} {text[11:16]} UTC"
    return text


# Zone names whose clocks are UTC's: days and times in them are said once, in UTC.
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Universal", "Zulu", "Etc/Universal", "Etc/Zulu"})


def period(start: str, end: str, zone: str = "UTC") -> str:
    """The period in UTC, and on the clocks of `zone` (the server's, whose days the digest counts) unless UTC."""
    in_utc = f"{timestamp(start)} to {timestamp(end)} (end excluded)"
    local = [_local(text, zone) for text in (start, end)]
    if zone in UTC_NAMES or None in local:
        return in_utc
    return f"{in_utc}; {local[0]} to {local[1]} {zone}"


def reader_period(start: str, end: str) -> str:
    """A period (stored timestamps) for a Discord message: in each reader's own time (Discord's timestamp markup),
    and in UTC as the report gives it."""
    in_utc = f"{start[:16].replace('T', ' ')} – {end[:16].replace('T', ' ')} UTC"
    first, last = instant(start), instant(end)
    if first is None or last is None:
        return in_utc
    return f"<t:{int(first.timestamp())}:f> – <t:{int(last.timestamp())}:f> (your time; {in_utc})"


def instant(text: str) -> datetime | None:
    """A stored timestamp ("2026-11-23T09:00:00.000Z") as an aware datetime (UTC when it names no offset), or None
    when it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _local(text: str, zone: str) -> str | None:
    """A stored UTC timestamp on the clocks of `zone` ("2026-11-23 16:00"), or None when either is not readable."""
    moment = instant(text)
    try:
        clocks = ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        return None
    return None if moment is None else moment.astimezone(clocks).strftime("%Y-%m-%d %H:%M")
