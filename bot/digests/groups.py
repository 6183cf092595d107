"""Fit by group: the breakdowns (scope version, language, channel, setting), the scope-version comparison and
fit over time. Group codes come from `AnswerTable` lookups, so nothing here loops over ratings in Python.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from bot.digests.bootstrap import Grouping, IntArray
from bot.digests.estimates import Fit, Grouped, difference, grouped, pooled_scale_ratings
from bot.digests.formatting import UTC_NAMES, scale_sizes
from bot.digests.model import (
    FEW_ANSWERS,
    NO_SPREAD,
    ONE_ANSWER,
    Breakdown,
    Difference,
    GroupFit,
    TimePoint,
    VersionComparison,
    side_of_zero,
)
from bot.digests.periods import AnswerTable, KeyColumn, RatedPeriod, prepare
from bot.digests.rows import DigestRows
from bot.digests.text import channel_label, safe_text
from bot.wording import counted

UNKNOWN = "?"  # the group of ratings whose answer is in neither period's rows
NOT_IN_ROWS = "answer not in the rows"
VERSION_FEW_RATINGS = 30
VERSION_FEW_ANSWERS = 10  # rated answers on one side: the unit the intervals resample
WEEKLY_AFTER_DAYS = 35  # fit over time is per week when the periods shown span more days than this
# The windows of the version comparison and randomized arms (pooled over both periods when there is a previous one).
THIS_PERIOD = "this period"
BOTH_PERIODS = "this and the previous period"


@dataclass(frozen=True, slots=True)
class Dimension:
    name: str
    title: str
    field: str  # the AnswerRow field the groups come from
    key: Callable[[Any], str]  # the group key of a field value
    label: Callable[[str], str]
    by_version: bool  # ordered by version number rather than by size


def _version_key(version: int | None) -> str:
    return "unscoped" if version is None else str(version)


def _version_label(key: str) -> str:
    if key == UNKNOWN:
        return NOT_IN_ROWS
    return key if key == "unscoped" else f"v{key}"


def _version_sort(key: str) -> tuple[int, int]:
    if key == "unscoped":
        return (0, 0)
    if key == UNKNOWN or not key.lstrip("-").isdigit():
        return (2, 0)
    return (1, int(key))


DIMENSIONS = (
    Dimension("scope_version", "By scope version", "scope_version", _version_key, _version_label, True),
    Dimension(
        "language",
        "By language",
        "language",
        lambda language: language or "unknown",
        lambda key: NOT_IN_ROWS if key == UNKNOWN else key,
        False,
    ),
    Dimension(
        "channel",
        "By channel",
        "channel_id",
        str,
        lambda key: NOT_IN_ROWS if key == UNKNOWN else channel_label(key),
        False,
    ),
    Dimension(
        "setting",
        "By cue setting (topic)",
        "setting",
        lambda setting: setting or "none",
        lambda key: {"none": "no setting cue", UNKNOWN: NOT_IN_ROWS}.get(key, key),
        False,
    ),
)


# ------------------------------------------------------------------------------------------------ breakdowns


@dataclass(frozen=True, slots=True)
class Keys:
    """A dimension's groups in one period: keys in report order, each rated answer's code, answers per group."""

    keys: tuple[str, ...]
    grouping: Grouping
    answers: IntArray  # the period's answers (rated or not) per group


def period_keys(dimension: Dimension, column: KeyColumn, rated_codes: IntArray, own_codes: IntArray) -> Keys:
    """Groups that have answers or ratings this period; `own_codes`: codes of the period's own answer rows."""
    size = len(column.keys)
    rated = np.bincount(rated_codes, minlength=size)
    answers = np.bincount(own_codes, minlength=size)
    present = np.flatnonzero((rated > 0) | (answers > 0)).tolist()
    if dimension.by_version:
        present.sort(key=lambda code: _version_sort(column.keys[code]))
    else:
        present.sort(key=lambda code: (-rated[code], -answers[code], column.keys[code]))
    remap = np.full(size, -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    return Keys(
        tuple(column.keys[code] for code in present),
        Grouping(remap[rated_codes], len(present)),
        answers[present].astype(np.int64),
    )


@dataclass(frozen=True, slots=True)
class PreviousMeans:
    """The previous period's mean fit and ratings per group key (`point_means`), and each group's ratings per scale
    size, (size, ratings) ascending: a group rated on other scales than this period (or on a mix) is marked."""

    means: dict[str, tuple[float, int]] = field(default_factory=dict)
    scale_ratings: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)


def point_means(column: KeyColumn, codes: IntArray, period: RatedPeriod) -> PreviousMeans:
    """Mean fit and ratings per key, without intervals (the previous period's column in the tables), with each
    key's rating scales. `codes`: each rated answer's code (in period.answer_ids order)."""
    size = len(column.keys)
    fit = np.bincount(codes, weights=period.fit_sum, minlength=size)
    ratings = np.bincount(codes, weights=period.count, minlength=size)
    scales: dict[str, list[tuple[int, int]]] = {}
    if period.scale.size:
        width = int(period.scale.max()) + 1
        pairs = np.bincount(codes[period.rating_index] * width + period.scale)
        for pair in np.flatnonzero(pairs).tolist():  # ascending: by key code, then scale size
            scales.setdefault(column.keys[pair // width], []).append((pair % width, int(pairs[pair])))
    return PreviousMeans(
        {column.keys[i]: (float(fit[i] / ratings[i]), round(float(ratings[i]))) for i in np.flatnonzero(ratings)},
        {key: tuple(counts) for key, counts in scales.items()},
    )


def breakdown(dimension: Dimension, keys: Keys, fits: Grouped, previous: PreviousMeans) -> Breakdown:
    """A dimension's groups this period, each with its mean fit in the previous period (`previous`: empty without
    one) and on which scales, so that a group rated on others is marked."""
    groups = []
    for index, key in enumerate(keys.keys):
        fit = fits.fit(index)
        previous_mean, previous_ratings = previous.means.get(key, (None, 0))
        before_ratings = previous.scale_ratings.get(key, ())
        before = tuple(size for size, _ in before_ratings)
        now_ratings = fits.scale_ratings[index] if fits.scale_ratings.size else np.zeros(0, dtype=np.int64)
        groups.append(
            GroupFit(
                key=key,
                label=safe_text(dimension.label(key)),
                answers=int(keys.answers[index]),
                mean_fit=fit.mean_fit,
                fit_share=fit.fit_share,
                previous_mean_fit=previous_mean,
                previous_ratings=previous_ratings,
                scales=fit.scales,
                previous_scales=before,
                previous_scales_differ=scales_differ(before, fit.scales),
                scale_ratings=tuple((size, int(now_ratings[size])) for size in np.flatnonzero(now_ratings).tolist()),
                previous_scale_ratings=before_ratings,
            )
        )
    if not dimension.by_version:
        groups.sort(key=lambda group: (-group.mean_fit.ratings, -group.answers, group.key))
    return Breakdown(dimension.name, dimension.title, tuple(groups))


# ------------------------------------------------------------------------------------------------ scope versions


def version_of_rows(table: AnswerTable) -> IntArray:
    """Each table answer's scope version, -1 when it was answered unscoped or in a randomized comparison (those
    are compared by their own section, randomized.py, not before/after)."""
    return np.fromiter(
        (-1 if row.scope_version is None or row.arm is not None else row.scope_version for row in table.rows),
        np.int64,
        count=len(table.rows),
    )


def rated_versions(versions: IntArray, positions: Sequence[IntArray]) -> list[int]:
    """The scope versions that rated answers used, ascending."""
    found: set[int] = set()
    for rows in positions:
        found.update(versions[rows[rows >= 0]].tolist())
    return sorted(version for version in found if version >= 0)


def version_grouping(versions: IntArray, positions: IntArray, rated: Sequence[int]) -> Grouping:
    """Each rated answer's index among the `rated` versions, -1 when unscoped or unknown."""
    version = np.full(positions.size, -1, dtype=np.int64)
    known = positions >= 0
    if versions.size:
        version[known] = versions[positions[known]]
    code = np.searchsorted(np.asarray(rated, dtype=np.int64), version)
    return Grouping(np.where(version >= 0, code, -1).astype(np.int64), len(rated))


def group_scales(parts: Sequence[tuple[RatedPeriod, Grouping]]) -> list[tuple[int, ...]]:
    """The scale sizes each group's ratings used, ascending, pooled over the periods (each with its grouping of
    rated answers). Runs over the ratings in numpy; the Python loop is over the distinct (group, scale) pairs."""
    groups = max((grouping.groups for _, grouping in parts), default=0)
    found: list[set[int]] = [set() for _ in range(groups)]
    for period, grouping in parts:
        if not period.scale.size or not grouping.codes.size:
            continue
        codes = grouping.codes[period.rating_index]
        known = codes >= 0
        width = int(period.scale.max()) + 1
        pairs = np.unique(codes[known] * width + period.scale[known])
        for pair in pairs.tolist():
            found[pair // width].add(pair % width)
    return [tuple(sorted(sizes)) for sizes in found]


def scales_differ(a: Collection[int], b: Collection[int]) -> bool:
    """Whether two sides' ratings were not all on one and the same scale: the scales differ, or a side mixes them.
    A side without ratings has nothing to differ by."""
    if not a or not b:
        return False
    return len(a) > 1 or len(b) > 1 or set(a) != set(b)


def _sizes(scales: Collection[int]) -> str:
    """(3,) -> "the 3-point scale"; (3, 5) -> "the 3- and 5-point scales"."""
    return f"the {scale_sizes(scales)} scale" + ("s" if len(set(scales)) > 1 else "")


def scale_caveat(a: str, a_scales: Collection[int], b: str, b_scales: Collection[int]) -> str:
    """The note's first sentences when `scales_differ`: the difference of `b` and `a` is a hint, not a finding."""
    if set(a_scales) == set(b_scales):
        rated = f"were each rated on a mix of scales ({_sizes(a_scales)}, in proportions that can differ)"
    else:
        rated = f"were rated on different scales ({a} on {_sizes(a_scales)}, {b} on {_sizes(b_scales)})"
    first = a[:1].upper() + a[1:] if a.startswith("the ") else a  # "v1" stays as it is
    return (
        f"{first} and {b} {rated}: read the difference as a hint, not a "
        "finding. The tops of two scales are different thresholds, so no fit-share difference is given; and a "
        "step on one scale is not the same step on another, so part of the mean-fit difference, or all of it, "
        "can come from the scale."
    )


def version_comparison(
    periods: Sequence[RatedPeriod],
    parts: Sequence[Grouped],
    versions: Sequence[int],
    current: int | None = None,
    *,
    scales: Sequence[tuple[int, ...]] = (),
) -> VersionComparison:
    """The latest two rated scope versions, pooled over the periods given (a change often falls mid-week).

    `current`: the version in use at the period's end, when known. When it has no ratings in the periods, the
    note says so first: the two compared are then the latest rated ones before it, not the last change.

    `scales`: the scale sizes of each version's ratings (`group_scales`, in `versions` order). When the two
    compared were not both rated on one scale, the note leads with that, and no fit-share difference is given.

    Each period is resampled on its own (periods are strata); pooled totals add up per replicate, so the
    difference between two versions is computed within each replicate.
    """
    window = THIS_PERIOD if len(periods) == 1 else BOTH_PERIODS
    answers_per_version = Counter(
        row.scope_version
        for period in periods
        for row in period.rows.answers
        if row.scope_version is not None and row.arm is None
    )
    pooled = Grouped.pooled(parts)
    fits = {version: pooled.fit(index) for index, version in enumerate(versions)}
    groups = tuple(
        GroupFit(
            str(version),
            f"v{version}",
            answers_per_version.get(version, 0),
            fit.mean_fit,
            fit.fit_share,
            None,
            0,
            fit.scales,
        )
        for version, fit in fits.items()
    )
    in_use = None if current is None else f"v{current}"
    unrated = ""  # the sentence's start when the version in use has no ratings
    if current is not None and current not in fits:
        in_arms = any(row.scope_version == current and row.arm is not None for p in periods for row in p.rows.answers)
        outside = " outside randomized comparisons" if in_arms else ""
        unrated = f"In {window}, v{current} (in use at the period's end) has no ratings yet{outside}"
    if len(fits) < 2:
        # Answers in a randomized comparison are left out here (they have their own section): said, or the note
        # contradicts the tables by version, which count them.
        arms = any(row.arm is not None for p in periods for row in p.rows.answers)
        beside = " outside randomized comparisons" if arms else ""
        if unrated:
            others = f"only one other version (v{next(iter(fits))}) has" if fits else "no other version has"
            note = f"{unrated}, and {others} rated answers: there is nothing to compare."
        elif fits:
            only = next(iter(fits))
            note = (
                f"Only one scope version (v{only}) has rated answers{beside} in {window}: there is nothing to compare."
            )
        else:
            note = f"No rated answer in {window} used a scope version{beside}: there is nothing to compare."
        return VersionComparison(window, groups, None, None, None, None, note, in_use)
    prior_version, latest_version = versions[-2:]
    prior, latest = f"v{prior_version}", f"v{latest_version}"
    prior_scales, latest_scales = (tuple(scales[-2]), tuple(scales[-1])) if len(scales) >= 2 else ((), ())
    confounded = scales_differ(prior_scales, latest_scales)
    mean_change = difference(fits[prior_version], fits[latest_version], 0, prior, latest)
    share_change = None if confounded else difference(fits[prior_version], fits[latest_version], 1, prior, latest)
    note = _version_note(mean_change, fits[prior_version], fits[latest_version], window, confounded=confounded)
    if confounded:
        note = f"{scale_caveat(prior, prior_scales, latest, latest_scales)} {note}"
    if unrated:
        note = (
            f"{unrated}, so its change cannot be judged; compared instead are {latest} and {prior}, the two "
            f"latest versions with ratings. {note}"
        )
    return VersionComparison(
        window,
        groups,
        latest,
        prior,
        mean_change,
        share_change,
        note,
        in_use,
        prior_scales,
        latest_scales,
        confounded,
    )


def _version_note(change: Difference, prior: Fit, latest: Fit, window: str, *, confounded: bool = False) -> str:
    few = min(prior.mean_fit.ratings, latest.mean_fit.ratings)
    few_answers = min(prior.mean_fit.answers, latest.mean_fit.answers)
    caveat = (
        " Answers before and after a change also differ in their questions, raters and time, so this is an "
        "observational comparison, not an experiment."
    )
    if change.low is None or change.high is None or change.value is None:
        alone = [name for name, fit in ((change.a, prior), (change.b, latest)) if fit.mean_fit.interval == ONE_ANSWER]
        if alone:
            has = f"{alone[0]} has" if len(alone) == 1 else f"{alone[0]} and {alone[1]} each have"
            return (
                f"{change.b} versus {change.a} in {window}: {has} one rated answer, which a bootstrap cannot "
                f"resample, so the difference has no interval.{caveat}"
            )
        few_sides = [
            f"{name} ({counted(fit.mean_fit.answers, 'rated answer')})"
            for name, fit in ((change.a, prior), (change.b, latest))
            if fit.mean_fit.interval == FEW_ANSWERS
        ]
        if few_sides:
            return (
                f"{change.b} versus {change.a} in {window}: {' and '.join(few_sides)} "
                f"{'has' if len(few_sides) == 1 else 'have'} too few rated answers to resample, so the difference "
                f"has no interval.{caveat}"
            )
        if NO_SPREAD in (prior.mean_fit.interval, latest.mean_fit.interval):
            return (
                f"{change.b} versus {change.a} in {window}: on one side every resample of answers gives the same "
                f"mean fit, so the difference has no interval (its uncertainty is not measured).{caveat}"
            )
        return f"{change.b} versus {change.a} in {window}: too few rated answers for an interval.{caveat}"
    undecided = f"the data cannot tell whether {change.b} fits better than {change.a}"
    lead = lead_sentence(change, few, change.b, change.a, undecided, answers=few_answers, confounded=confounded)
    return f"{lead} Pooled over {window}.{caveat}"


def lead_sentence(
    change: Difference,
    few: int,
    b: str,
    a: str,
    undecided: str,
    *,
    answers: int | None = None,
    confounded: bool = False,
) -> str:
    """What the interval of `change` (b - a) lets a reader conclude, as the first sentence of a note. `few`: the
    ratings on the smaller side; `answers`: its rated answers, the bootstrap's unit (many ratings of a handful
    of answers are still a handful). `confounded`: the sides were rated on different scales (`scales_differ`),
    so an interval clear of zero does not show that the versions differ."""
    assert change.low is not None
    assert change.high is not None
    if few < VERSION_FEW_RATINGS:
        return f"With only {counted(few, 'rating')} on one side, read this as a hint."
    if answers is not None and answers < VERSION_FEW_ANSWERS:
        return f"With only {counted(answers, 'rated answer')} on one side, read this as a hint."
    side = side_of_zero(change.low, change.high)
    if side and confounded:
        direction = "higher" if side > 0 else "lower"
        return (
            f"Mean fit under {b} is {direction} than under {a} and the interval excludes no change, but that can "
            "be the scales' doing rather than the versions'."
        )
    if side > 0:
        return f"Mean fit under {b} is higher than under {a}; the interval excludes no change."
    if side < 0:
        return f"Mean fit under {b} is lower than under {a}; the interval excludes no change."
    return f"The interval includes zero: {undecided}."


# ------------------------------------------------------------------------------------------------ over time


def local_day(timestamp: str, zone: ZoneInfo | None) -> str:
    """The date (YYYY-MM-DD) of a stored UTC timestamp, or of its first 13 or 16 characters (to the hour or minute),
    on the clocks of `zone` (None: UTC); a text that is no timestamp keeps its first 10 characters."""
    if zone is None:
        return timestamp[:10]
    try:
        moment = datetime.fromisoformat(timestamp[:16] + (":00" if len(timestamp) == 13 else ""))
    except ValueError:
        return timestamp[:10]
    return moment.replace(tzinfo=UTC).astimezone(zone).date().isoformat()


def day_zone(timezone: str) -> ZoneInfo | None:
    """The zone whose days a digest counts in: None for UTC (days are the timestamps' first 10 characters)."""
    return None if timezone in UTC_NAMES else ZoneInfo(timezone)


def day_column(table: AnswerTable, timezone: str = "UTC") -> KeyColumn:
    """The day (YYYY-MM-DD) each table answer was asked, on the clocks of `timezone` (an IANA name)."""
    zone = day_zone(timezone)
    if zone is None:
        return table.key_column("created_at", str, UNKNOWN, cut=itemgetter(slice(0, 10)))
    # Converted once per distinct hour, not per answer: every day starts on a whole UTC hour in a zone whose offsets
    # are whole hours; to the minute where an offset is not (India's +05:30, Nepal's +05:45). Offsets are looked at
    # at both ends and in January and July of each year between: Lord Howe Island is +11 in summer and +10:30 in
    # winter, so both ends can be whole hours with half-hour days between them.
    stamps = [row.created_at for row in (table.rows[0], table.rows[-1])] if table.rows else []
    years = sorted({stamp[:4] for stamp in stamps if stamp[:4].isdigit()})
    if years:
        stamps += [
            f"{year:04d}-{month}-01T00:00:00"
            for year in range(int(years[0]), int(years[-1]) + 1)
            for month in ("01", "07")
        ]
    minutes = any(_offset_minutes(zone, stamp) % 60 for stamp in stamps)
    cut = itemgetter(slice(0, 16 if minutes else 13))
    return table.key_column("created_at", functools.partial(local_day, zone=zone), UNKNOWN, cut=cut)


def _offset_minutes(zone: ZoneInfo, timestamp: str) -> int:
    try:
        moment = datetime.fromisoformat(timestamp[:19]).replace(tzinfo=UTC)
    except ValueError:
        return 0
    offset = zone.utcoffset(moment)
    return round(offset.total_seconds() / 60) if offset is not None else 0


def answer_days(
    table: AnswerTable, days: KeyColumn, positions: IntArray, period: RatedPeriod, timezone: str = "UTC"
) -> list[str]:
    """The day each rated answer was asked; for an answer missing from the rows, the day of its first rating (days
    on the clocks of `timezone`, as `days` counts them)."""
    keys = np.array(days.keys, dtype=object)
    result: list[str] = keys[table.codes(days, positions)].tolist()
    if (positions < 0).any():
        zone = day_zone(timezone)
        first: dict[int, str] = {}
        unknown = set(period.answer_ids[positions < 0].tolist())
        for rating in period.ratings:
            if rating.answer_id in unknown:
                day = local_day(rating.created_at, zone)
                first[rating.answer_id] = min(first.get(rating.answer_id, day), day)
        for index in np.flatnonzero(positions < 0).tolist():
            result[index] = first[int(period.answer_ids[index])]
    return result


def week_of(day: str) -> str:
    """The Monday starting the day's week, or the text unchanged when it is not a date."""
    try:
        moment = date.fromisoformat(day)
    except ValueError:
        return day
    return (moment - timedelta(days=moment.weekday())).isoformat()


def _date(timestamp: str) -> date | None:
    try:
        return date.fromisoformat(timestamp[:10])
    except ValueError:
        return None


def spans_weeks(periods: Sequence[DigestRows]) -> bool:
    """Whether the periods, from the first start to the last end, span more than WEEKLY_AFTER_DAYS days: fit
    over time is then shown per week (the chart and `compute_digest` decide alike)."""
    days = [day for rows in periods for day in (_date(rows.start), _date(rows.end)) if day is not None]
    return bool(days) and (max(days) - min(days)).days > WEEKLY_AFTER_DAYS


def bucket_grouping(days: Sequence[str], buckets: Sequence[str], weekly: bool) -> Grouping:
    code = {bucket: index for index, bucket in enumerate(buckets)}
    keys = map(week_of, days) if weekly else iter(days)
    return Grouping(np.fromiter(map(code.__getitem__, keys), np.int64, count=len(days)), len(buckets))


def timeline(buckets: Sequence[str], parts: Sequence[Grouped], *, weekly: bool = False) -> tuple[TimePoint, ...]:
    """Each bucket's fit, pooling the periods' bootstraps (periods are strata, as for versions). `weekly`: the
    buckets are days, and each week's (from Monday) fit is wanted."""
    if not parts:
        return ()
    if weekly:
        buckets, pooled = _by_week(buckets, parts)
    else:
        pooled = Grouped.pooled(parts)
    points = []
    for index, bucket in enumerate(buckets):
        fit = pooled.fit(index)
        points.append(TimePoint(bucket, fit.mean_fit, fit.fit_share))
    return tuple(points)


def _by_week(days: Sequence[str], parts: Sequence[Grouped]) -> tuple[list[str], Grouped]:
    """The weeks of the days, and their fits pooled over the periods from the days' totals: an answer counts on
    one day, so a week's totals in each replicate are its days' (the numbers a weekly grouping of the same
    draws gives, without a second bootstrap)."""
    weeks = sorted({week_of(day) for day in days})
    if not weeks:
        return weeks, Grouped.pooled(parts)
    code = {week: index for index, week in enumerate(weeks)}
    week_of_day = np.fromiter((code[week_of(day)] for day in days), np.int64, count=len(days))
    # Each week's days as one contiguous block, summed by reduceat: linear in the days (a weeks x days matrix
    # product was quadratic, some 20 GFLOP for a ten-year export's replicates).
    order = np.argsort(week_of_day, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(week_of_day[order]) != 0])

    def by_week(values: np.ndarray) -> np.ndarray:
        result: np.ndarray = np.add.reduceat(values[order], starts, axis=0)
        return result

    point = sum(by_week(part.point) for part in parts)
    totals = sum(by_week(part.totals) for part in parts)
    answers = sum(by_week(part.answers) for part in parts)
    scales = by_week(pooled_scale_ratings(parts))
    return weeks, Grouped.of(np.asarray(point), np.asarray(totals), np.asarray(answers), scales)


def fit_timeline(
    periods: Sequence[DigestRows],
    *,
    seed: int = 0,
    bootstrap: int = 1000,
    weekly: bool = False,
    timezone: str = "UTC",
) -> tuple[TimePoint, ...]:
    """Fit per day (or per week from Monday) of the answers asked, with bootstrap intervals, over periods; days on
    the clocks of `timezone`.

    The chart uses this for history beyond the digest's own two periods (`Digest.timeline`, `weekly_timeline`).
    """
    table = AnswerTable.of(*(rows.answers for rows in periods))
    days = day_column(table, timezone)
    prepared = [prepare(rows) for rows in periods]
    period_days = [
        answer_days(table, days, table.positions(period.answer_ids), period, timezone) for period in prepared
    ]
    buckets = sorted({week_of(day) if weekly else day for found in period_days for day in found})
    parts = [
        grouped(
            period,
            [bucket_grouping(found, buckets, weekly)],
            seed=seed,
            resamples=bootstrap,
            label=f"timeline:{period.rows.start}",
        )[0]
        for period, found in zip(prepared, period_days, strict=True)
    ]
    return timeline(buckets, parts)
