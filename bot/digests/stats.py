"""The digest's numbers: pure functions over `DigestRows`, no I/O.

`compute_digest(current, previous)` is the one entry point. Conventions (also in model.py): fit on 0..1 is
(value - 1) / (scale_size - 1); fit share is the share of ratings at the top value; intervals are cluster
bootstrap 95% percentile intervals that resample answers (bootstrap.py). A rater rating one answer twice
counts once (the latest `updated_at`); ratings with a value outside 1..scale_size are ignored and noted.
Answer metadata (scope version, language, channel, setting) is looked up in this period's answers, then in
the previous period's (a rating this week of last week's answer).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from operator import attrgetter

import numpy as np
from numpy.typing import NDArray

from bot.digests.agreement import krippendorff_alpha
from bot.digests.bootstrap import (
    Clusters,
    FloatArray,
    Grouping,
    IntArray,
    group_totals,
    grouped_replicates,
    percentile_interval,
    percentile_intervals,
    ratios,
    rng_for,
    whole,
)
from bot.digests.model import (
    AnswerNote,
    AuditEntry,
    Breakdown,
    CommentNote,
    Denominators,
    Difference,
    Digest,
    Disagreement,
    Estimate,
    FitSummary,
    GroupFit,
    PeriodSummary,
    QualityNote,
    Quote,
    ScaleCounts,
    TagCount,
    Theme,
    ThemeSummary,
    TimePoint,
    VersionComparison,
)
from bot.digests.rows import AnswerRow, AuditRow, CommentRow, DigestRows, RatingRow
from bot.digests.text import safe_excerpt, safe_text
from bot.digests.themes import METHOD, FoundTheme, ThemeFinding, find_themes, match_previous

__all__ = ["Digest", "RatedPeriod", "compute_digest", "fit_timeline", "prepare"]

OUTCOMES = ("ok", "incomplete", "failed", "refused")
ANSWER_EXCERPT = 300
QUESTION_EXCERPT = 300
COMMENT_EXCERPT = 1000
QUOTE_EXCERPT = 500
AUDIT_EXCERPT = 300
LOWEST_FIT_LIMIT = 10
SPLIT_EXAMPLES = 10
COMMENTS_PER_ANSWER = 10
MAX_QUOTES = 12
QUOTES_PER_THEME = 2
QUOTES_PER_MEMBER = 2
ALPHA_MIN_UNITS = 10
SMALL_N = 30
FEW_RATERS = 5
DOMINANT_SHARE = 0.5
LOW_RATED_SHARE = 0.3
FAILED_SHARE = 0.1
VERSION_FEW_RATINGS = 30

SPLIT_RULE = (
    "An answer's ratings are split when it has at least one rating at the top and one at the bottom of the "
    "scale, or when its ratings span at least half of the scale's values (3 or more steps on a 5-point scale)."
)


# ------------------------------------------------------------------------------------------------ one period


@dataclass(frozen=True, slots=True)
class RatedPeriod:
    """One period's valid ratings as arrays, and per rated answer totals (answers in `answer_ids` order)."""

    rows: DigestRows
    ratings: tuple[RatingRow, ...]  # deduplicated, valid
    invalid_ratings: int
    rating_answer: IntArray  # per rating: answer id
    rating_index: IntArray  # per rating: position in answer_ids
    fit: FloatArray
    top: FloatArray
    value: IntArray
    scale: IntArray
    rater: IntArray  # per rating: rater code
    rater_count: int
    answer_ids: IntArray  # rated answers, ascending
    count: FloatArray
    fit_sum: FloatArray
    top_sum: FloatArray

    @property
    def mean(self) -> FloatArray:
        result: FloatArray = self.fit_sum / self.count
        return result

    def clusters(self) -> Clusters:
        return Clusters(self.count, np.vstack([self.fit_sum, self.top_sum]))


def _valid_latest(ratings: Sequence[RatingRow]) -> tuple[tuple[RatingRow, ...], int]:
    """Ratings with a value on their scale, the latest per (answer, rater); and how many were invalid."""
    latest: dict[tuple[int, str], RatingRow] = {}
    invalid = 0
    for rating in ratings:
        if rating.scale_size < 2 or not 1 <= rating.value <= rating.scale_size:
            invalid += 1
            continue
        key = (rating.answer_id, rating.rater_hash)
        seen = latest.get(key)
        if seen is None or rating.updated_at > seen.updated_at:
            latest[key] = rating
    return tuple(latest.values()), invalid


_ANSWER_ID = attrgetter("answer_id")
_RATER = attrgetter("rater_hash")
_VALUE = attrgetter("value")
_SCALE = attrgetter("scale_size")


def prepare(rows: DigestRows) -> RatedPeriod:
    """Valid, deduplicated ratings as arrays, with per-answer totals (also used by the chart)."""
    ratings: tuple[RatingRow, ...] = tuple(rows.ratings)
    n = len(ratings)
    value = np.fromiter(map(_VALUE, ratings), np.int64, count=n)
    scale = np.fromiter(map(_SCALE, ratings), np.int64, count=n)
    invalid = 0
    # Storage keeps one valid rating per member and answer, so the slow path rarely runs; checked in C.
    if (
        not bool(np.all((scale >= 2) & (value >= 1) & (value <= scale)))
        or len(set(zip(map(_ANSWER_ID, ratings), map(_RATER, ratings), strict=True))) != n
    ):
        ratings, invalid = _valid_latest(ratings)
        n = len(ratings)
        value = np.fromiter(map(_VALUE, ratings), np.int64, count=n)
        scale = np.fromiter(map(_SCALE, ratings), np.int64, count=n)
    rating_answer = np.fromiter(map(_ANSWER_ID, ratings), np.int64, count=n)
    codes: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    rater = np.fromiter(map(codes.__getitem__, map(_RATER, ratings)), np.int64, count=n)
    fit = (value - 1) / (scale - 1)
    top = (value == scale).astype(np.float64)
    answer_ids, rating_index = np.unique(rating_answer, return_inverse=True)
    size = answer_ids.size
    return RatedPeriod(
        rows=rows,
        ratings=ratings,
        invalid_ratings=invalid,
        rating_answer=rating_answer,
        rating_index=rating_index.astype(np.int64),
        fit=fit,
        top=top,
        value=value,
        scale=scale,
        rater=rater,
        rater_count=len(codes),
        answer_ids=answer_ids.astype(np.int64),
        count=np.bincount(rating_index, minlength=size).astype(np.float64),
        fit_sum=np.bincount(rating_index, weights=fit, minlength=size).astype(np.float64),
        top_sum=np.bincount(rating_index, weights=top, minlength=size).astype(np.float64),
    )


def _rating_label(rating: RatingRow) -> str:
    return f"{rating.value}/{rating.scale_size}"


# ------------------------------------------------------------------------------------------------ estimates


@dataclass(frozen=True, slots=True)
class _Fit:
    mean_fit: Estimate
    fit_share: Estimate
    replicates: FloatArray  # (2, resamples): mean fit, fit share; NaN where the group was not drawn


_NO_FIT = _Fit(Estimate(None, None, None, 0, 0), Estimate(None, None, None, 0, 0), np.empty((2, 0)))


def _optional(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _difference(a: _Fit, b: _Fit, statistic: int, a_label: str, b_label: str) -> Difference:
    """b - a; the replicates are paired (same resample, or independent resamples of two periods)."""
    a_estimate = a.mean_fit if statistic == 0 else a.fit_share
    b_estimate = b.mean_fit if statistic == 0 else b.fit_share
    if a_estimate.value is None or b_estimate.value is None:
        return Difference(a_label, b_label, None, None, None)
    value = b_estimate.value - a_estimate.value
    if a.replicates.shape[1] == 0 or b.replicates.shape[1] == 0:
        return Difference(a_label, b_label, value, None, None)
    interval = percentile_interval(b.replicates[statistic] - a.replicates[statistic])
    low, high = interval if interval is not None else (None, None)
    return Difference(a_label, b_label, value, low, high)


@dataclass(frozen=True, slots=True)
class _Grouped:
    """One grouping of one period's rated answers (or pooled periods): per-group totals and intervals."""

    point: FloatArray  # (groups, 3): ratings, fit sum, top sum
    totals: FloatArray  # (groups, 3, resamples)
    answers: IntArray  # (groups,): rated answers
    replicates: FloatArray  # (groups, 2, resamples): mean fit, fit share; NaN where a group was not drawn
    low: FloatArray  # (groups, 2)
    high: FloatArray

    @classmethod
    def of(cls, point: FloatArray, totals: FloatArray, answers: IntArray) -> _Grouped:
        replicates = ratios(totals.transpose(1, 0, 2)).transpose(1, 0, 2)
        low, high = percentile_intervals(replicates)  # every group at once: one sort
        return cls(point, totals, answers, replicates, low, high)

    def fit(self, group: int) -> _Fit:
        point = self.point[group]
        if point[0] == 0:
            return _NO_FIT
        ratings = round(float(point[0]))
        answers = int(self.answers[group])
        estimates = []
        for statistic in range(2):
            value = float(point[1 + statistic] / point[0])
            # One rated answer has no sampling variation to resample: no interval rather than a fake one.
            if answers >= 2:
                low, high = _optional(self.low[group, statistic]), _optional(self.high[group, statistic])
            else:
                low = high = None
            estimates.append(Estimate(value, low, high, answers, ratings))
        reps = self.replicates[group] if answers >= 2 else np.empty((2, 0))
        return _Fit(estimates[0], estimates[1], reps)


def _grouped(
    period: RatedPeriod, groupings: Sequence[Grouping], *, seed: int, resamples: int, label: str
) -> list[_Grouped]:
    """Every grouping's fits from one shared bootstrap of the period's answers."""
    clusters = period.clusters()
    all_totals = grouped_replicates(clusters, groupings, resamples, rng_for(seed, label))
    result = []
    for grouping, totals in zip(groupings, all_totals, strict=True):
        member = grouping.codes[grouping.codes >= 0]
        answers = np.bincount(member, minlength=grouping.groups).astype(np.int64)
        result.append(_Grouped.of(group_totals(clusters, grouping), totals, answers))
    return result


def _denominators(period: RatedPeriod) -> Denominators:
    rows = period.rows
    outcomes = Counter(answer.outcome for answer in rows.answers)
    by_outcome = {outcome: outcomes.get(outcome, 0) for outcome in OUTCOMES}
    by_outcome.update({outcome: count for outcome, count in sorted(outcomes.items()) if outcome not in by_outcome})
    rated = set(period.answer_ids.tolist())
    rated_answers = sum(1 for answer in rows.answers if answer.answer_id in rated)
    return Denominators(
        answers=len(rows.answers),
        answers_by_outcome=by_outcome,
        rated_answers=rated_answers,
        share_rated=rated_answers / len(rows.answers) if rows.answers else None,
        ratings=len(period.ratings),
        unique_raters=period.rater_count,
        comments=len(rows.comments),
        quotable_comments=sum(1 for comment in rows.comments if comment.quotable),
        reason_tags=len(rows.reasons),
        declined=rows.declined,
        withdrew=rows.withdrew,
    )


def _summary(period: RatedPeriod, fit: _Fit) -> PeriodSummary:
    distribution = []
    for size in sorted(set(period.scale.tolist())):
        counts = np.bincount(period.value[period.scale == size] - 1, minlength=size)
        distribution.append(ScaleCounts(size, tuple(int(count) for count in counts)))
    all_equal = period.fit.size > 0 and bool(np.ptp(period.fit) == 0)
    return PeriodSummary(
        period.rows.start,
        period.rows.end,
        _denominators(period),
        FitSummary(tuple(distribution), fit.mean_fit, fit.fit_share, all_equal),
    )


# ------------------------------------------------------------------------------------------------ breakdowns


@dataclass(frozen=True, slots=True)
class _Dimension:
    name: str
    title: str
    key: Callable[[AnswerRow], str]
    label: Callable[[str], str]
    order: str  # "version" or "size"


_UNKNOWN = "?"


def _version_key(answer: AnswerRow) -> str:
    return "unscoped" if answer.scope_version is None else str(answer.scope_version)


def _version_label(key: str) -> str:
    if key == _UNKNOWN:
        return "answer not in the rows"
    return key if key == "unscoped" else f"v{key}"


DIMENSIONS = (
    _Dimension("scope_version", "By scope version", _version_key, _version_label, "version"),
    _Dimension(
        "language",
        "By language",
        lambda answer: answer.language or "unknown",
        lambda key: "answer not in the rows" if key == _UNKNOWN else key,
        "size",
    ),
    _Dimension(
        "channel",
        "By channel",
        lambda answer: str(answer.channel_id),
        lambda key: "answer not in the rows" if key == _UNKNOWN else f"channel {key}",
        "size",
    ),
    _Dimension(
        "setting",
        "By cue setting (topic)",
        lambda answer: answer.setting or "none",
        lambda key: {"none": "no setting cue", _UNKNOWN: "answer not in the rows"}.get(key, key),
        "size",
    ),
)


def _group_keys(period: RatedPeriod, lookup: dict[int, AnswerRow], dimension: _Dimension) -> list[str]:
    """The dimension's key for each rated answer of the period."""
    key, get = dimension.key, lookup.get
    return [_UNKNOWN if (answer := get(answer_id)) is None else key(answer) for answer_id in period.answer_ids.tolist()]


def _version_sort(key: str) -> tuple[int, int]:
    if key == "unscoped":
        return (0, 0)
    if key == _UNKNOWN:
        return (2, 0)
    return (1, int(key))


def _point_by_group(period: RatedPeriod, keys: Sequence[str]) -> dict[str, tuple[float, int]]:
    """Mean fit and ratings per group key (point estimates, for the previous period's columns)."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for key, count, fit_sum in zip(keys, period.count.tolist(), period.fit_sum.tolist(), strict=True):
        totals[key][0] += fit_sum
        totals[key][1] += count
    return {key: (fit_sum / count, round(count)) for key, (fit_sum, count) in totals.items()}


@dataclass(frozen=True, slots=True)
class _Keys:
    """A dimension's groups: their keys in report order, and each rated answer's group code."""

    keys: tuple[str, ...]
    grouping: Grouping
    answers_per_key: Counter[str]


def _keys(period: RatedPeriod, lookup: dict[int, AnswerRow], dimension: _Dimension) -> _Keys:
    keys = _group_keys(period, lookup, dimension)
    answers_per_key = Counter(map(dimension.key, period.rows.answers))
    rated_per_key = Counter(keys)
    everything = set(rated_per_key) | set(answers_per_key)
    if dimension.order == "version":
        ordered = sorted(everything, key=_version_sort)
    else:
        ordered = sorted(everything, key=lambda key: (-rated_per_key[key], -answers_per_key[key], key))
    code = {key: index for index, key in enumerate(ordered)}
    codes = np.fromiter(map(code.__getitem__, keys), np.int64, count=len(keys))
    return _Keys(tuple(ordered), Grouping(codes, len(ordered)), answers_per_key)


def _breakdown(
    dimension: _Dimension, keys: _Keys, grouped: _Grouped, previous_points: dict[str, tuple[float, int]]
) -> Breakdown:
    groups = []
    for index, key in enumerate(keys.keys):
        fit = grouped.fit(index)
        previous_mean, previous_ratings = previous_points.get(key, (None, 0))
        groups.append(
            GroupFit(
                key=key,
                label=safe_text(dimension.label(key)),
                answers=keys.answers_per_key.get(key, 0),
                mean_fit=fit.mean_fit,
                fit_share=fit.fit_share,
                previous_mean_fit=previous_mean,
                previous_ratings=previous_ratings,
            )
        )
    if dimension.order != "version":
        # Point ratings decide the order; the codes were ordered by the same counts.
        groups.sort(key=lambda group: (-group.mean_fit.ratings, -group.answers, group.key))
    return Breakdown(dimension.name, dimension.title, tuple(groups))


def _version_codes(period: RatedPeriod, lookup: dict[int, AnswerRow], versions: Sequence[int]) -> Grouping:
    code = {version: index for index, version in enumerate(versions)}
    codes = []
    for answer_id in period.answer_ids.tolist():
        row = lookup.get(answer_id)
        codes.append(-1 if row is None or row.scope_version is None else code[row.scope_version])
    return Grouping(np.array(codes, dtype=np.int64), len(versions))


def _rated_versions(periods: Sequence[RatedPeriod], lookup: dict[int, AnswerRow]) -> list[int]:
    versions = set()
    for period in periods:
        for answer_id in period.answer_ids.tolist():
            row = lookup.get(answer_id)
            if row is not None and row.scope_version is not None:
                versions.add(row.scope_version)
    return sorted(versions)


def _version_comparison(
    periods: Sequence[RatedPeriod], grouped: Sequence[_Grouped], versions: Sequence[int]
) -> VersionComparison:
    """Latest two rated scope versions, pooled over the periods given (a change often falls mid-week).

    Each period is resampled on its own (periods are strata); pooled totals add up per replicate, so the
    difference between two versions is computed within each replicate.
    """
    window = "this period" if len(periods) == 1 else "this and the previous period"
    point = sum((g.point for g in grouped), start=np.zeros((len(versions), 3)))
    totals = np.sum([g.totals for g in grouped], axis=0) if grouped else np.zeros((len(versions), 3, 0))
    answers = sum((g.answers for g in grouped), start=np.zeros(len(versions), dtype=np.int64))
    answers_per_version = Counter(
        row.scope_version for period in periods for row in period.rows.answers if row.scope_version is not None
    )
    pooled = _Grouped.of(point, totals, answers)
    fits = {version: pooled.fit(index) for index, version in enumerate(versions)}
    groups = tuple(
        GroupFit(str(version), f"v{version}", answers_per_version.get(version, 0), fit.mean_fit, fit.fit_share, None, 0)
        for version, fit in fits.items()
    )
    if len(fits) < 2:
        if fits:
            only = next(iter(fits))
            note = f"Only one scope version (v{only}) has rated answers in {window}: there is nothing to compare."
        else:
            note = f"No rated answer in {window} used a scope version: there is nothing to compare."
        return VersionComparison(window, groups, None, None, None, None, note)
    prior_version, latest_version = versions[-2:]
    prior, latest = f"v{prior_version}", f"v{latest_version}"
    mean_change = _difference(fits[prior_version], fits[latest_version], 0, prior, latest)
    share_change = _difference(fits[prior_version], fits[latest_version], 1, prior, latest)
    note = _version_note(mean_change, fits[prior_version], fits[latest_version], window)
    return VersionComparison(window, groups, latest, prior, mean_change, share_change, note)


def _version_note(change: Difference, prior: _Fit, latest: _Fit, window: str) -> str:
    few = min(prior.mean_fit.ratings, latest.mean_fit.ratings)
    caveat = (
        " Answers before and after a change also differ in their questions, raters and time, so this is an "
        "observational comparison, not an experiment."
    )
    if change.low is None or change.high is None or change.value is None:
        return f"{change.b} versus {change.a} in {window}: too few rated answers for an interval.{caveat}"
    if few < VERSION_FEW_RATINGS:
        lead = f"With only {few} ratings on one side, read this as a hint."
    elif change.low > 0:
        lead = f"Mean fit under {change.b} is higher than under {change.a}; the interval excludes no change."
    elif change.high < 0:
        lead = f"Mean fit under {change.b} is lower than under {change.a}; the interval excludes no change."
    else:
        lead = f"The interval includes zero: the data cannot tell whether {change.b} fits better than {change.a}."
    return f"{lead} Pooled over {window}.{caveat}"


# ------------------------------------------------------------------------------------------------ timeline


def _answer_days(period: RatedPeriod, lookup: dict[int, AnswerRow]) -> list[str]:
    """The day (UTC, YYYY-MM-DD) each rated answer was asked; for an unknown answer, its first rating's day."""
    days: list[str | None] = [
        row.created_at[:10] if (row := lookup.get(answer_id)) is not None else None
        for answer_id in period.answer_ids.tolist()
    ]
    if any(day is None for day in days):
        first: dict[int, str] = {}
        for rating in period.ratings:
            if rating.answer_id not in lookup:
                day = rating.created_at[:10]
                first[rating.answer_id] = min(first.get(rating.answer_id, day), day)
        days = [
            first[answer_id] if day is None else day
            for answer_id, day in zip(period.answer_ids.tolist(), days, strict=True)
        ]
    return [day or "" for day in days]


def _week_of(day: str) -> str:
    try:
        moment = date.fromisoformat(day)
    except ValueError:
        return day
    return (moment - timedelta(days=moment.weekday())).isoformat()


def _bucket_codes(days: Sequence[str], buckets: Sequence[str], weekly: bool) -> Grouping:
    code = {bucket: index for index, bucket in enumerate(buckets)}
    keys = (_week_of(day) if weekly else day for day in days)
    return Grouping(np.fromiter((code[key] for key in keys), np.int64, count=len(days)), len(buckets))


def _timeline(buckets: Sequence[str], grouped: Sequence[_Grouped]) -> tuple[TimePoint, ...]:
    """Pool each bucket's totals over the periods' bootstraps (periods are strata, as for versions)."""
    if not grouped:
        return ()
    pooled = _Grouped.of(
        np.sum([g.point for g in grouped], axis=0),
        np.sum([g.totals for g in grouped], axis=0),
        np.sum([g.answers for g in grouped], axis=0),
    )
    points = []
    for index, bucket in enumerate(buckets):
        fit = pooled.fit(index)
        points.append(TimePoint(bucket, fit.mean_fit, fit.fit_share))
    return tuple(points)


def fit_timeline(
    periods: Sequence[DigestRows], *, seed: int = 0, bootstrap: int = 1000, weekly: bool = False
) -> tuple[TimePoint, ...]:
    """Fit per day (or per week from Monday) of the answers asked, with bootstrap intervals, over periods.

    The chart uses this for history beyond the digest's own two periods (`Digest.timeline`).
    """
    lookup = {answer.answer_id: answer for rows in periods for answer in rows.answers}
    prepared = [prepare(rows) for rows in periods]
    days = [_answer_days(period, lookup) for period in prepared]
    buckets = sorted({_week_of(day) if weekly else day for period_days in days for day in period_days})
    grouped = [
        _grouped(
            period,
            [_bucket_codes(period_days, buckets, weekly)],
            seed=seed,
            resamples=bootstrap,
            label=f"timeline:{period.rows.start}",
        )[0]
        for period, period_days in zip(prepared, days, strict=True)
    ]
    return _timeline(buckets, grouped)


# ------------------------------------------------------------------------------------------------ members


class _Aliases:
    """Per-digest member aliases in order of first appearance: Member A, B, …, Z, AA, AB, …"""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def __call__(self, rater_hash: str) -> str:
        name = self._names.get(rater_hash)
        if name is None:
            name = "Member " + _letters(len(self._names))
            self._names[rater_hash] = name
        return name


def _letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


# ------------------------------------------------------------------------------------------------ answers


@dataclass(frozen=True, slots=True)
class _Context:
    """Lookups shared by the answer notes, quotes and reasons."""

    lookup: dict[int, AnswerRow]
    comments_by_answer: dict[int, list[CommentRow]]
    rating_label: dict[tuple[int, str], str]  # (answer, rater) -> "value/scale"
    aliases: _Aliases


def _answer_notes(period: RatedPeriod, positions: Iterable[int], context: _Context) -> tuple[AnswerNote, ...]:
    chosen = [int(position) for position in positions]
    wanted = {int(period.answer_ids[position]) for position in chosen}
    rating_counts: dict[int, Counter[str]] = defaultdict(Counter)
    for rating in period.ratings:
        if rating.answer_id in wanted:
            rating_counts[rating.answer_id][_rating_label(rating)] += 1
    reasons: dict[int, Counter[str]] = defaultdict(Counter)
    for reason in period.rows.reasons:
        if reason.answer_id in wanted:
            reasons[reason.answer_id][safe_text(reason.tag)] += 1
    notes = []
    for position in chosen:
        answer_id = int(period.answer_ids[position])
        row = context.lookup.get(answer_id)
        comments = sorted(context.comments_by_answer.get(answer_id, []), key=lambda c: (c.created_at, c.comment_id))
        notes.append(
            AnswerNote(
                answer_id=answer_id,
                known=row is not None,
                channel_id=row.channel_id if row else None,
                created_at=row.created_at if row else None,
                outcome=row.outcome if row else None,
                scope_version=row.scope_version if row else None,
                language=safe_text(row.language) if row and row.language else None,
                setting=safe_text(row.setting) if row and row.setting else None,
                question=safe_excerpt(row.question, QUESTION_EXCERPT) if row else "",
                answer_excerpt=safe_excerpt(row.answer, ANSWER_EXCERPT) if row else "",
                ratings=round(float(period.count[position])),
                mean_fit=float(period.mean[position]),
                rating_counts=dict(sorted(rating_counts[answer_id].items())),
                reasons=dict(sorted(reasons[answer_id].items(), key=lambda item: (-item[1], item[0]))),
                comments=tuple(
                    CommentNote(
                        comment.comment_id,
                        context.aliases(comment.rater_hash),
                        safe_excerpt(comment.text, COMMENT_EXCERPT),
                        comment.quotable,
                        comment.created_at,
                    )
                    for comment in comments[:COMMENTS_PER_ANSWER]
                ),
                more_comments=max(0, len(comments) - COMMENTS_PER_ANSWER),
            )
        )
    return tuple(notes)


def _lowest_fit(period: RatedPeriod, context: _Context) -> tuple[AnswerNote, ...]:
    if period.answer_ids.size == 0:
        return ()
    order = np.lexsort((period.answer_ids, -period.count, period.mean))
    return _answer_notes(period, order[:LOWEST_FIT_LIMIT], context)


# ------------------------------------------------------------------------------------------------ disagreement


def _disagreement(period: RatedPeriod, context: _Context) -> Disagreement:
    size = period.answer_ids.size
    low = np.full(size, np.inf)
    high = np.full(size, -np.inf)
    widest_scale = np.zeros(size, dtype=np.int64)
    np.minimum.at(low, period.rating_index, period.fit)
    np.maximum.at(high, period.rating_index, period.fit)
    np.maximum.at(widest_scale, period.rating_index, period.scale)
    multi = period.count >= 2
    spread = np.where(multi, high - low, 0.0)
    # "Half the scale's values": scale_size / 2 steps of 1 / (scale_size - 1) each, on the 0..1 fit scale.
    half = np.where(widest_scale > 1, (widest_scale / 2) / np.maximum(widest_scale - 1, 1), np.inf)
    split = multi & (((low == 0) & (high == 1)) | (spread >= half - 1e-9))
    split_positions = np.flatnonzero(split)
    order = split_positions[
        np.lexsort((period.answer_ids[split_positions], -period.count[split_positions], -spread[split_positions]))
    ]
    multi_count = int(np.count_nonzero(multi))
    pairable = multi[period.rating_index]
    raters = int(np.unique(period.rater[pairable]).size)
    sentence, alpha, units, values = _alpha_sentence(period, pairable, multi_count, raters)
    return Disagreement(
        multi_rated_answers=multi_count,
        split_answers=int(split_positions.size),
        split_share=split_positions.size / multi_count if multi_count else None,
        split_rule=SPLIT_RULE,
        examples=_answer_notes(period, order[:SPLIT_EXAMPLES], context),
        alpha=alpha,
        alpha_units=units,
        alpha_values=values,
        alpha_raters=raters,
        alpha_sentence=sentence,
    )


def _alpha_sentence(
    period: RatedPeriod, pairable: NDArray[np.bool_], multi_count: int, raters: int
) -> tuple[str, float | None, int, int]:
    if multi_count < ALPHA_MIN_UNITS:
        rated_by = "answer was" if multi_count == 1 else "answers were"
        return (
            f"Agreement across raters (Krippendorff's alpha) is not reported: only {multi_count} {rated_by} "
            f"rated by two or more members, and at least {ALPHA_MIN_UNITS} are needed for a meaningful estimate.",
            None,
            multi_count,
            int(np.count_nonzero(pairable)),
        )
    result = krippendorff_alpha(period.rating_index[pairable], period.fit[pairable], "ordinal")
    if result.alpha is None:
        return (
            f"Krippendorff's alpha is undefined: all {result.values} ratings on the {result.units} answers rated by "
            "two or more members have the same value, so there is no variation to agree or disagree on.",
            None,
            result.units,
            result.values,
        )
    alpha = result.alpha
    if alpha >= 0.8:
        reading = "members largely agree on how well answers fit."
    elif alpha >= 0.667:
        reading = "moderate agreement: draw only tentative conclusions from the averages."
    else:
        reading = (
            "members often judge the same answer differently. For cultural fit this can be real variation "
            "within the community rather than noise: read the split answers and their comments."
        )
    mixed = len(set(period.scale[pairable].tolist())) > 1
    scales = " 3- and 5-point ratings share one ordinal 0–1 fit scale." if mixed else ""
    return (
        f"Krippendorff's alpha (ordinal) is {alpha:.2f} over {result.units} answers rated by two or more members "
        f"({result.values} ratings by {raters} members); 1 is perfect agreement, 0 is agreement no better than "
        f"chance. Reading: {reading}{scales}",
        alpha,
        result.units,
        result.values,
    )


# ------------------------------------------------------------------------------------------------ reasons


def _rating_labels(period: RatedPeriod) -> dict[tuple[int, str], str]:
    """Each (answer, rater)'s rating as "value/scale" (mapped in C: this runs over every rating)."""
    pairs = list(zip(period.value.tolist(), period.scale.tolist(), strict=True))
    names = {(value, size): f"{value}/{size}" for value, size in set(pairs)}
    labels = map(names.__getitem__, pairs)
    return dict(
        zip(zip(map(_ANSWER_ID, period.ratings), map(_RATER, period.ratings), strict=True), labels, strict=True)
    )


_TAG = attrgetter("tag")


def _reasons(current: RatedPeriod, previous: RatedPeriod | None, context: _Context) -> tuple[TagCount, ...]:
    reasons = current.rows.reasons
    labels = map(context.rating_label.get, zip(map(_ANSWER_ID, reasons), map(_RATER, reasons), strict=True))
    pairs = Counter(zip(map(_TAG, reasons), labels, strict=True))
    counts: Counter[str] = Counter()
    by_fit: dict[str, Counter[str]] = defaultdict(Counter)
    for (raw_tag, label), number in pairs.items():
        tag = safe_text(raw_tag)
        counts[tag] += number
        by_fit[tag][label or "unrated"] += number
    previous_counts: Counter[str] | None = None
    if previous is not None:
        previous_counts = Counter()
        for raw_tag, number in Counter(map(_TAG, previous.rows.reasons)).items():
            previous_counts[safe_text(raw_tag)] += number
    return tuple(
        TagCount(
            tag,
            count,
            previous_counts.get(tag, 0) if previous_counts is not None else None,
            dict(sorted(by_fit[tag].items())),
        )
        for tag, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    )


# ------------------------------------------------------------------------------------------------ themes, quotes


def _comment_texts(rows: DigestRows) -> list[CommentRow]:
    """Comments with text (the retention job blanks purged ones), in a stable order."""
    return sorted((c for c in rows.comments if c.text.strip()), key=lambda c: c.comment_id)


def _theme_label(theme: FoundTheme) -> str:
    return " · ".join(theme.terms[:3]) if theme.terms else "(no shared words)"


def _themes(
    current: list[CommentRow], previous: list[CommentRow] | None, *, seed: int
) -> tuple[ThemeSummary, ThemeFinding]:
    finding = find_themes([comment.text for comment in current], seed=seed)
    previous_finding = find_themes([comment.text for comment in previous], seed=seed) if previous is not None else None
    comparable = previous_finding is not None and bool(previous_finding.themes)
    themes = []
    for found in finding.themes:
        matched = match_previous(found, previous_finding.themes) if previous_finding and comparable else None
        themes.append(
            Theme(
                label=_theme_label(found),
                terms=found.terms,
                size=len(found.members),
                share=len(found.members) / finding.clustered,
                cohesion=found.cohesion,
                example_comment_ids=tuple(current[i].comment_id for i in found.members[:3]),
                is_new=(matched is None) if comparable else None,
                matches_previous=_theme_label(previous_finding.themes[matched])
                if previous_finding is not None and matched is not None
                else None,
            )
        )
    note = finding.reason
    if note is None and not comparable:
        note = (
            "No previous themes to compare with, so no theme is marked new."
            if previous_finding is None or previous_finding.reason is None
            else f"Previous period: {previous_finding.reason} No theme is marked new."
        )
    summary = ThemeSummary(
        method=METHOD,
        comments=finding.documents,
        grouped=finding.clustered,
        vocabulary=finding.vocabulary,
        themes=tuple(themes),
        previous_themes=tuple(_theme_label(theme) for theme in previous_finding.themes) if previous_finding else (),
        note=note,
    )
    return summary, finding


def _quotes(
    comments: list[CommentRow], finding: ThemeFinding, period: RatedPeriod, context: _Context
) -> tuple[Quote, ...]:
    """Quotable comments only: up to two per theme nearest its centre, then the rest, lowest-fit answers first."""
    theme_of: dict[int, str] = {}
    candidates: list[int] = []
    for theme in finding.themes:
        label = _theme_label(theme)
        quotable = [i for i in theme.members if comments[i].quotable]
        theme_of.update((i, label) for i in theme.members)
        candidates.extend(quotable[:QUOTES_PER_THEME])
    answer_mean = dict(zip(period.answer_ids.tolist(), period.mean.tolist(), strict=True))
    rest = sorted(
        (i for i, comment in enumerate(comments) if comment.quotable),
        key=lambda i: (answer_mean.get(comments[i].answer_id, 2.0), comments[i].comment_id),
    )
    per_member: Counter[str] = Counter()
    chosen: list[int] = []
    for i in [*candidates, *rest]:
        if len(chosen) >= MAX_QUOTES:
            break
        comment = comments[i]
        if i in chosen or per_member[comment.rater_hash] >= QUOTES_PER_MEMBER:
            continue
        per_member[comment.rater_hash] += 1
        chosen.append(i)
    quotes = []
    for i in chosen:
        comment = comments[i]
        rating = context.rating_label.get((comment.answer_id, comment.rater_hash))
        quotes.append(
            Quote(
                member=context.aliases(comment.rater_hash),
                text=safe_excerpt(comment.text, QUOTE_EXCERPT),
                comment_id=comment.comment_id,
                answer_id=comment.answer_id,
                theme=theme_of.get(i),
                rating=rating,
            )
        )
    return tuple(quotes)


# ------------------------------------------------------------------------------------------------ audit, notes


def _audit(rows: Sequence[AuditRow]) -> tuple[tuple[AuditEntry, ...], tuple[AuditEntry, ...]]:
    entries = sorted(rows, key=lambda row: row.created_at)
    scope = tuple(
        AuditEntry(row.created_at, safe_text(row.action), safe_excerpt(row.detail, AUDIT_EXCERPT))
        for row in entries
        if row.action.startswith("scope.")
    )
    other = tuple(
        AuditEntry(row.created_at, safe_text(row.action), safe_excerpt(row.detail, AUDIT_EXCERPT))
        for row in entries
        if not row.action.startswith("scope.")
    )
    return scope, other


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def _notes(
    current: RatedPeriod, summary: PeriodSummary, previous: RatedPeriod | None, unknown_ratings: int
) -> list[QualityNote]:
    notes: list[QualityNote] = []
    d = summary.denominators
    if previous is None:
        notes.append(QualityNote("no_previous", "No previous period to compare with: changes are not shown."))
    if d.answers == 0 and d.ratings == 0:
        notes.append(QualityNote("empty", "No answers and no ratings in this period: there is nothing to summarise."))
    elif d.ratings == 0:
        notes.append(
            QualityNote("no_ratings", f"None of the {d.answers} answers was rated: there is no fit to report.")
        )
    elif d.ratings < SMALL_N:
        notes.append(
            QualityNote("small_n", f"Only {d.ratings} rating(s): treat percentages as anecdotes, not estimates.")
        )
    if 0 < d.unique_raters < FEW_RATERS:
        notes.append(
            QualityNote(
                "few_raters",
                f"Only {d.unique_raters} member(s) rated answers: the numbers describe them, not the community.",
            )
        )
    if d.unique_raters >= 2:
        top_share = float(np.bincount(current.rater).max()) / d.ratings
        if top_share > DOMINANT_SHARE:
            notes.append(
                QualityNote(
                    "dominant_rater",
                    f"One member gave {_percent(top_share)} of the ratings: the averages mostly reflect one view.",
                )
            )
    if d.answers >= 1 and d.share_rated is not None and d.ratings > 0 and d.share_rated < LOW_RATED_SHARE:
        notes.append(
            QualityNote(
                "many_unrated",
                f"{_percent(1 - d.share_rated)} of the answers were not rated: rated answers may not represent the "
                "rest (members tend to rate answers that struck them).",
            )
        )
    failed = d.answers_by_outcome.get("failed", 0) + d.answers_by_outcome.get("incomplete", 0)
    if d.answers and failed / d.answers > FAILED_SHARE:
        notes.append(
            QualityNote(
                "failed_answers",
                f"{_percent(failed / d.answers)} of the answers failed or were incomplete "
                f"({d.answers_by_outcome.get('failed', 0)} failed, {d.answers_by_outcome.get('incomplete', 0)} "
                "incomplete): check the model service before reading fit.",
            )
        )
    if summary.fit.all_equal and d.ratings >= 2:
        notes.append(
            QualityNote(
                "all_equal",
                "Every rating had the same value: the bootstrap intervals collapse to a point and understate the "
                "uncertainty.",
            )
        )
    if len(summary.fit.distribution) > 1:
        notes.append(
            QualityNote(
                "mixed_scales",
                "Ratings on 3- and 5-point scales are combined on a 0–1 fit scale ((value − 1) / (scale − 1)); the "
                "fit share counts the top value of each scale.",
            )
        )
    if unknown_ratings:
        notes.append(
            QualityNote(
                "unknown_answers",
                f"{unknown_ratings} rating(s) refer to answers missing from the rows: they count in the totals but "
                "appear as 'answer not in the rows' in the breakdowns.",
            )
        )
    if current.invalid_ratings:
        notes.append(
            QualityNote(
                "invalid_ratings", f"{current.invalid_ratings} rating(s) with a value outside their scale were ignored."
            )
        )
    purged = sum(1 for comment in current.rows.comments if not comment.text.strip())
    if purged:
        notes.append(
            QualityNote("purged_text", f"{purged} comment(s) have no text (removed by the retention job or empty).")
        )
    return notes


# ------------------------------------------------------------------------------------------------ entry point


def compute_digest(current: DigestRows, previous: DigestRows | None, *, seed: int = 0, bootstrap: int = 1000) -> Digest:
    """The digest of `current`, compared with `previous` when given. Deterministic for a seed."""
    if bootstrap < 1:
        raise ValueError("bootstrap must be at least 1")
    now = prepare(current)
    before = prepare(previous) if previous is not None else None
    previous_lookup = {answer.answer_id: answer for answer in previous.answers} if previous is not None else {}
    lookup = previous_lookup | {answer.answer_id: answer for answer in current.answers}

    # One bootstrap per period serves every grouping: overall, the four breakdowns, the scope versions.
    key_sets = [_keys(now, lookup, dimension) for dimension in DIMENSIONS]
    periods = [now] if before is None else [before, now]
    versions = _rated_versions(periods, lookup)
    now_days = _answer_days(now, lookup)
    before_days = _answer_days(before, lookup) if before is not None else []
    days = sorted(set(now_days) | set(before_days))
    now_grouped = _grouped(
        now,
        [
            whole(now.answer_ids.size),
            *(keys.grouping for keys in key_sets),
            _version_codes(now, lookup, versions),
            _bucket_codes(now_days, days, weekly=False),
        ],
        seed=seed,
        resamples=bootstrap,
        label="current",
    )
    now_fit = now_grouped[0].fit(0)
    summary = _summary(now, now_fit)
    before_summary = None
    mean_change = share_change = None
    version_grouped = [now_grouped[-2]]
    day_grouped = [now_grouped[-1]]
    if before is not None:
        before_grouped = _grouped(
            before,
            [
                whole(before.answer_ids.size),
                _version_codes(before, lookup, versions),
                _bucket_codes(before_days, days, weekly=False),
            ],
            seed=seed,
            resamples=bootstrap,
            label="previous",
        )
        before_fit = before_grouped[0].fit(0)
        before_summary = _summary(before, before_fit)
        mean_change = _difference(before_fit, now_fit, 0, "previous period", "this period")
        share_change = _difference(before_fit, now_fit, 1, "previous period", "this period")
        version_grouped.insert(0, before_grouped[1])
        day_grouped.insert(0, before_grouped[2])

    breakdowns = []
    for index, (dimension, keys) in enumerate(zip(DIMENSIONS, key_sets, strict=True)):
        previous_points: dict[str, tuple[float, int]] = {}
        if before is not None:
            previous_points = _point_by_group(before, _group_keys(before, previous_lookup, dimension))
        breakdowns.append(_breakdown(dimension, keys, now_grouped[1 + index], previous_points))
    version_comparison = _version_comparison(periods, version_grouped, versions)

    comments_by_answer: dict[int, list[CommentRow]] = defaultdict(list)
    for comment in current.comments:
        comments_by_answer[comment.answer_id].append(comment)
    context = _Context(
        lookup=lookup,
        comments_by_answer=comments_by_answer,
        rating_label=_rating_labels(now),
        aliases=_Aliases(),
    )
    lowest = _lowest_fit(now, context)
    disagreement = _disagreement(now, context)
    comments = _comment_texts(current)
    themes, finding = _themes(comments, _comment_texts(previous) if previous is not None else None, seed=seed)
    quotes = _quotes(comments, finding, now, context)
    scope_changes, moderator_actions = _audit(current.audit)
    unknown = round(
        sum(
            count
            for answer_id, count in zip(now.answer_ids.tolist(), now.count.tolist(), strict=True)
            if answer_id not in lookup
        )
    )
    notes = _notes(now, summary, before, unknown)

    return Digest(
        guild_id=current.guild_id,
        guild_name=safe_text(current.guild_name),
        start=current.start,
        end=current.end,
        seed=seed,
        bootstrap=bootstrap,
        current=summary,
        previous=before_summary,
        mean_fit_change=mean_change,
        fit_share_change=share_change,
        breakdowns=tuple(breakdowns),
        versions=version_comparison,
        timeline=_timeline(days, day_grouped),
        reasons=_reasons(now, before, context),
        lowest_fit=lowest,
        disagreement=disagreement,
        themes=themes,
        quotes=quotes,
        scope_changes=scope_changes,
        moderator_actions=moderator_actions,
        notes=tuple(notes),
    )
