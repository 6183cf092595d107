"""The digest's numbers: pure functions over `DigestRows`, no I/O.

`compute_digest(current, previous)` is the one entry point. Conventions (also in model.py): fit on 0..1 is
(value - 1) / (scale_size - 1); fit share is the share of ratings at the top value; intervals are cluster
bootstrap 95% percentile intervals that resample answers (bootstrap.py). A rater rating one answer twice
counts once (the latest `updated_at`); ratings with a value outside 1..scale_size are ignored and noted.
Answer metadata (scope version, language, channel, setting) is looked up in this period's answers, then in
the previous period's (a rating this week of last week's answer).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.digests.agreement import krippendorff_alpha
from bot.digests.bootstrap import Clusters, FloatArray, percentile_interval, replicates, rng_for
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
    VersionComparison,
)
from bot.digests.rows import AnswerRow, AuditRow, CommentRow, DigestRows, RatingRow
from bot.digests.text import safe_excerpt, safe_text
from bot.digests.themes import METHOD, FoundTheme, ThemeFinding, find_themes, match_previous

__all__ = ["Digest", "compute_digest"]

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

IntArray = NDArray[np.int64]


# ------------------------------------------------------------------------------------------------ one period


@dataclass(frozen=True, slots=True)
class _Period:
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

    def clusters(self, mask: NDArray[np.bool_] | None = None) -> Clusters:
        if mask is None:
            return Clusters(self.count, np.vstack([self.fit_sum, self.top_sum]))
        return Clusters(self.count[mask], np.vstack([self.fit_sum[mask], self.top_sum[mask]]))


def _prepare(rows: DigestRows) -> _Period:
    latest: dict[tuple[int, str], RatingRow] = {}
    invalid = 0
    for rating in rows.ratings:
        if rating.scale_size < 2 or not 1 <= rating.value <= rating.scale_size:
            invalid += 1
            continue
        key = (rating.answer_id, rating.rater_hash)
        seen = latest.get(key)
        if seen is None or rating.updated_at > seen.updated_at:
            latest[key] = rating
    ratings = tuple(latest.values())
    n = len(ratings)
    rating_answer = np.fromiter((rating.answer_id for rating in ratings), np.int64, count=n)
    value = np.fromiter((rating.value for rating in ratings), np.int64, count=n)
    scale = np.fromiter((rating.scale_size for rating in ratings), np.int64, count=n)
    codes: dict[str, int] = {}
    rater = np.fromiter((codes.setdefault(rating.rater_hash, len(codes)) for rating in ratings), np.int64, count=n)
    fit = (value - 1) / (scale - 1)
    top = (value == scale).astype(np.float64)
    answer_ids, rating_index = np.unique(rating_answer, return_inverse=True)
    size = answer_ids.size
    return _Period(
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
    replicates: FloatArray  # (2, resamples): mean fit, fit share


def _fit(clusters: Clusters, *, seed: int, resamples: int, label: str) -> _Fit:
    ratings = round(float(clusters.counts.sum()))
    if clusters.size == 0:
        empty = Estimate(None, None, None, 0, 0)
        return _Fit(empty, empty, np.empty((2, 0)))
    point = clusters.estimates()
    if clusters.size < 2:
        reps: FloatArray = np.empty((2, 0))
    else:
        reps = replicates(clusters, resamples, rng_for(seed, label))
    estimates = []
    for statistic in range(2):
        interval = percentile_interval(reps[statistic])
        low, high = interval if interval is not None else (None, None)
        estimates.append(Estimate(float(point[statistic]), low, high, clusters.size, ratings))
    return _Fit(estimates[0], estimates[1], reps)


def _difference(a: _Fit, b: _Fit, statistic: int, a_label: str, b_label: str) -> Difference:
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


def _denominators(period: _Period) -> Denominators:
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


def _summary(period: _Period, fit: _Fit) -> PeriodSummary:
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


def _group_keys(period: _Period, lookup: dict[int, AnswerRow], dimension: _Dimension) -> list[str]:
    """The dimension's key for each rated answer of the period."""
    keys = []
    for answer_id in period.answer_ids.tolist():
        answer = lookup.get(answer_id)
        keys.append(_UNKNOWN if answer is None else dimension.key(answer))
    return keys


def _version_sort(key: str) -> tuple[int, int]:
    if key == "unscoped":
        return (0, 0)
    if key == _UNKNOWN:
        return (2, 0)
    return (1, int(key))


def _point_by_group(period: _Period, keys: Sequence[str]) -> dict[str, tuple[float, int]]:
    """Mean fit and ratings per group key (point estimates, for the previous period's columns)."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for key, count, fit_sum in zip(keys, period.count.tolist(), period.fit_sum.tolist(), strict=True):
        totals[key][0] += fit_sum
        totals[key][1] += count
    return {key: (fit_sum / count, round(count)) for key, (fit_sum, count) in totals.items()}


def _breakdown(
    current: _Period,
    previous: _Period | None,
    lookup: dict[int, AnswerRow],
    previous_lookup: dict[int, AnswerRow],
    dimension: _Dimension,
    *,
    seed: int,
    resamples: int,
) -> Breakdown:
    keys = _group_keys(current, lookup, dimension)
    answers_per_key = Counter(dimension.key(answer) for answer in current.rows.answers)
    previous_points: dict[str, tuple[float, int]] = {}
    if previous is not None:
        previous_points = _point_by_group(previous, _group_keys(previous, previous_lookup, dimension))
    key_array = np.array(keys, dtype=object)
    groups = []
    for key in set(keys) | set(answers_per_key):
        mask = key_array == key if keys else np.zeros(0, dtype=np.bool_)
        fit = _fit(current.clusters(mask), seed=seed, resamples=resamples, label=f"{dimension.name}:{key}")
        previous_mean, previous_ratings = previous_points.get(key, (None, 0))
        groups.append(
            GroupFit(
                key=key,
                label=safe_text(dimension.label(key)),
                answers=answers_per_key.get(key, 0),
                mean_fit=fit.mean_fit,
                fit_share=fit.fit_share,
                previous_mean_fit=previous_mean,
                previous_ratings=previous_ratings,
            )
        )
    if dimension.order == "version":
        groups.sort(key=lambda group: _version_sort(group.key))
    else:
        groups.sort(key=lambda group: (-group.mean_fit.ratings, -group.answers, group.key))
    return Breakdown(dimension.name, dimension.title, tuple(groups))


def _version_comparison(
    current: _Period, previous: _Period | None, lookup: dict[int, AnswerRow], *, seed: int, resamples: int
) -> VersionComparison:
    """Latest two rated scope versions, pooling this and the previous period (a change often falls mid-week)."""
    periods = [current] if previous is None else [previous, current]
    window = "this period" if previous is None else "this and the previous period"
    answer = np.concatenate([period.rating_answer for period in periods])
    fit = np.concatenate([period.fit for period in periods])
    top = np.concatenate([period.top for period in periods])
    ids, index = np.unique(answer, return_inverse=True)
    count = np.bincount(index, minlength=ids.size).astype(np.float64)
    fit_sum = np.bincount(index, weights=fit, minlength=ids.size)
    top_sum = np.bincount(index, weights=top, minlength=ids.size)
    versions = np.array(
        [
            -1 if (row := lookup.get(answer_id)) is None or row.scope_version is None else row.scope_version
            for answer_id in ids.tolist()
        ],
        dtype=np.int64,
    )
    answers_per_version = Counter(
        row.scope_version for period in periods for row in period.rows.answers if row.scope_version is not None
    )
    fits: dict[int, _Fit] = {}
    groups = []
    for version in sorted(set(versions.tolist()) - {-1}):
        mask = versions == version
        fits[version] = _fit(
            Clusters(count[mask], np.vstack([fit_sum[mask], top_sum[mask]])),
            seed=seed,
            resamples=resamples,
            label=f"versions:{version}",
        )
        groups.append(
            GroupFit(
                str(version),
                f"v{version}",
                answers_per_version.get(version, 0),
                fits[version].mean_fit,
                fits[version].fit_share,
                None,
                0,
            )
        )
    if len(fits) < 2:
        if fits:
            only = next(iter(fits))
            note = f"Only one scope version (v{only}) has rated answers in {window}: there is nothing to compare."
        else:
            note = f"No rated answer in {window} used a scope version: there is nothing to compare."
        return VersionComparison(window, tuple(groups), None, None, None, None, note)
    prior_version, latest_version = sorted(fits)[-2:]
    prior, latest = f"v{prior_version}", f"v{latest_version}"
    mean_change = _difference(fits[prior_version], fits[latest_version], 0, prior, latest)
    share_change = _difference(fits[prior_version], fits[latest_version], 1, prior, latest)
    note = _version_note(mean_change, fits[prior_version], fits[latest_version], window)
    return VersionComparison(window, tuple(groups), latest, prior, mean_change, share_change, note)


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
    rating_of: dict[tuple[int, str], RatingRow]
    aliases: _Aliases


def _answer_notes(period: _Period, positions: Iterable[int], context: _Context) -> tuple[AnswerNote, ...]:
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


def _lowest_fit(period: _Period, context: _Context) -> tuple[AnswerNote, ...]:
    if period.answer_ids.size == 0:
        return ()
    order = np.lexsort((period.answer_ids, -period.count, period.mean))
    return _answer_notes(period, order[:LOWEST_FIT_LIMIT], context)


# ------------------------------------------------------------------------------------------------ disagreement


def _disagreement(period: _Period, context: _Context) -> Disagreement:
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
    period: _Period, pairable: NDArray[np.bool_], multi_count: int, raters: int
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


def _reasons(current: _Period, previous: _Period | None, context: _Context) -> tuple[TagCount, ...]:
    counts: Counter[str] = Counter()
    by_fit: dict[str, Counter[str]] = defaultdict(Counter)
    for reason in current.rows.reasons:
        tag = safe_text(reason.tag)
        counts[tag] += 1
        rating = context.rating_of.get((reason.answer_id, reason.rater_hash))
        by_fit[tag][_rating_label(rating) if rating else "unrated"] += 1
    previous_counts = Counter(safe_text(reason.tag) for reason in previous.rows.reasons) if previous else None
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


def _quotes(comments: list[CommentRow], finding: ThemeFinding, period: _Period, context: _Context) -> tuple[Quote, ...]:
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
        rating = context.rating_of.get((comment.answer_id, comment.rater_hash))
        quotes.append(
            Quote(
                member=context.aliases(comment.rater_hash),
                text=safe_excerpt(comment.text, QUOTE_EXCERPT),
                comment_id=comment.comment_id,
                answer_id=comment.answer_id,
                theme=theme_of.get(i),
                rating=_rating_label(rating) if rating else None,
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
    current: _Period, summary: PeriodSummary, previous: _Period | None, unknown_ratings: int
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
    now = _prepare(current)
    before = _prepare(previous) if previous is not None else None
    previous_lookup = {answer.answer_id: answer for answer in previous.answers} if previous is not None else {}
    lookup = previous_lookup | {answer.answer_id: answer for answer in current.answers}

    now_fit = _fit(now.clusters(), seed=seed, resamples=bootstrap, label="current")
    summary = _summary(now, now_fit)
    before_summary = None
    mean_change = share_change = None
    if before is not None:
        before_fit = _fit(before.clusters(), seed=seed, resamples=bootstrap, label="previous")
        before_summary = _summary(before, before_fit)
        mean_change = _difference(before_fit, now_fit, 0, "previous period", "this period")
        share_change = _difference(before_fit, now_fit, 1, "previous period", "this period")

    breakdowns = tuple(
        _breakdown(now, before, lookup, previous_lookup, dimension, seed=seed, resamples=bootstrap)
        for dimension in DIMENSIONS
    )
    versions = _version_comparison(now, before, lookup, seed=seed, resamples=bootstrap)

    comments_by_answer: dict[int, list[CommentRow]] = defaultdict(list)
    for comment in current.comments:
        comments_by_answer[comment.answer_id].append(comment)
    context = _Context(
        lookup=lookup,
        comments_by_answer=comments_by_answer,
        rating_of={(rating.answer_id, rating.rater_hash): rating for rating in now.ratings},
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
        breakdowns=breakdowns,
        versions=versions,
        reasons=_reasons(now, before, context),
        lowest_fit=lowest,
        disagreement=disagreement,
        themes=themes,
        quotes=quotes,
        scope_changes=scope_changes,
        moderator_actions=moderator_actions,
        notes=tuple(notes),
    )
