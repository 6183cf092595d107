"""The digest's numbers: `compute_digest`, a pure function over `DigestRows` (no I/O).

Conventions (see model.py): fit on 0..1 is (value - 1) / (scale_size - 1), so 3- and 5-point scales combine;
fit share is the share of ratings at the top value; intervals are cluster-bootstrap 95% percentile intervals
resampling answers, one bootstrap per period shared by every grouping (bootstrap.py), except where every
resample gives the same value: exact intervals at 0 or 1, none elsewhere (estimates.py). Answer metadata
(scope version, language, channel, setting, day) is looked up by id in both periods' answers, this period's
first. Rows read from storage pair each period's ratings with its own answers (late ratings of last period's
answers count there); rows made otherwise may not, and a rating whose answer is in neither period's rows
counts under "unknown".

The parts: periods.py (rows as arrays), estimates.py (intervals), groups.py (breakdowns, versions, time),
followup.py (lowest-fit and split answers, agreement), commentary.py (reasons, themes, quotes), quality.py.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from operator import attrgetter

import numpy as np

from bot.digests.bootstrap import whole
from bot.digests.commentary import comments_with_text, quotes, reason_tags, themes
from bot.digests.estimates import Fit, Grouped, difference, grouped, grouped_and_extra
from bot.digests.followup import Aliases, Context, disagreement, lowest_fit
from bot.digests.groups import (
    DIMENSIONS,
    UNKNOWN,
    PreviousMeans,
    answer_days,
    breakdown,
    bucket_grouping,
    day_column,
    fit_timeline,
    group_scales,
    period_keys,
    point_means,
    rated_versions,
    scales_differ,
    spans_weeks,
    timeline,
    version_comparison,
    version_grouping,
    version_of_rows,
)
from bot.digests.model import (
    CONSENT_LEVELS,
    NO_DECISION,
    AuditEntry,
    Denominators,
    Digest,
    FitSummary,
    PeriodSummary,
    ScaleCounts,
)
from bot.digests.periods import AnswerTable, RatedPeriod, prepare
from bot.digests.quality import quality_notes
from bot.digests.randomized import arm_comparisons
from bot.digests.rater_agreement import coincidence_columns, split_replicates
from bot.digests.rows import AuditRow, CommentRow, DigestRows
from bot.digests.text import audit_text, excerpt, safe_text

__all__ = ["Digest", "RatedPeriod", "compute_digest", "fit_timeline", "prepare"]

OUTCOMES = ("ok", "incomplete", "failed", "refused")
RATABLE = frozenset({"ok", "incomplete"})  # outcomes whose answers are shown with rating controls
_OUTCOME = attrgetter("outcome")
_ANSWER_ID = attrgetter("answer_id")
_QUOTABLE = attrgetter("quotable")
AUDIT_EXCERPT = 300


def _denominators(period: RatedPeriod) -> Denominators:
    rows = period.rows
    outcomes = Counter(map(_OUTCOME, rows.answers))
    by_outcome = {outcome: outcomes.get(outcome, 0) for outcome in OUTCOMES}
    by_outcome.update({outcome: count for outcome, count in sorted(outcomes.items()) if outcome not in by_outcome})
    own = np.fromiter(map(_ANSWER_ID, rows.answers), np.int64, count=len(rows.answers))
    rated = np.isin(own, period.answer_ids)
    # The share rated counts the answers members could rate: failed and refused ones carry no rating controls.
    ratable = np.fromiter((row.outcome in RATABLE for row in rows.answers), bool, count=len(rows.answers))
    consent_at_end, raters_by_consent = _consent_counts(period)
    return Denominators(
        answers=len(rows.answers),
        answers_by_outcome=by_outcome,
        rated_answers=int(rated.sum()),
        share_rated=float((rated & ratable).sum() / ratable.sum()) if ratable.any() else None,
        ratable_answers=int(ratable.sum()),
        rated_unratable=int((rated & ~ratable).sum()),
        ratings=len(period.ratings),
        unique_raters=period.rater_count,
        comments=len(rows.comments),
        quotable_comments=sum(map(_QUOTABLE, rows.comments)),
        reason_tags=len(rows.reasons),
        declined=rows.declined,
        withdrew=rows.withdrew,
        consent_at_end=consent_at_end,
        raters_by_consent=raters_by_consent,
    )


def _consent_counts(period: RatedPeriod) -> tuple[dict[str, int], dict[str, int]]:
    """`Denominators.consent_at_end` and `raters_by_consent`: members, and the period's raters, by their consent
    as it stood at the period's end (`DigestRows.consent_levels`)."""
    levels = period.rows.consent_levels
    members = Counter(levels.values())
    raters = Counter(levels.get(rater, NO_DECISION) for rater in period.rater_codes)
    return (
        {level: members[level] for level in CONSENT_LEVELS},
        {level: raters[level] for level in (*CONSENT_LEVELS, NO_DECISION)},
    )


def _summary(period: RatedPeriod, fit: Fit) -> PeriodSummary:
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


def _scale_sizes(summary: PeriodSummary) -> tuple[int, ...]:
    """The scale sizes of a period's ratings, ascending."""
    return tuple(counts.scale_size for counts in summary.fit.distribution)


def _audit(rows: Sequence[AuditRow]) -> tuple[tuple[AuditEntry, ...], tuple[AuditEntry, ...]]:
    """Scope changes (scope.*) and other moderator actions, in time order, details defused (`audit_text`: channels
    and roles by id, members by none)."""
    entries = [
        AuditEntry(row.created_at, safe_text(row.action), excerpt(audit_text(row.detail), AUDIT_EXCERPT))
        for row in sorted(rows, key=lambda row: row.created_at)
    ]
    scope = tuple(entry for entry in entries if entry.action.startswith("scope."))
    return scope, tuple(entry for entry in entries if not entry.action.startswith("scope."))


def compute_digest(
    current: DigestRows, previous: DigestRows | None, *, seed: int = 0, bootstrap: int = 1000, timezone: str = "UTC"
) -> Digest:
    """The digest of `current`, compared with `previous` when given. Deterministic for a seed. Fit over time counts
    days on the clocks of `timezone` (an IANA name: the server's, which its digest periods follow)."""
    if bootstrap < 1:
        raise ValueError("bootstrap must be at least 1")
    now = prepare(current)
    before = prepare(previous) if previous is not None else None
    periods = [now] if before is None else [before, now]
    table = AnswerTable.of(*(period.rows.answers for period in periods))  # this period's rows win
    now_rows = table.positions(now.answer_ids)
    before_rows = table.positions(before.answer_ids) if before is not None else np.zeros(0, dtype=np.int64)

    # Groups of the rated answers: the four breakdowns, scope versions (pooled over both periods), days.
    columns = [table.key_column(dimension.field, dimension.key, UNKNOWN) for dimension in DIMENSIONS]
    own_rows = table.positions([answer.answer_id for answer in current.answers])
    keys = [
        period_keys(dimension, column, table.codes(column, now_rows), column.codes[own_rows])
        for dimension, column in zip(DIMENSIONS, columns, strict=True)
    ]
    versions_of = version_of_rows(table)
    versions = rated_versions(versions_of, [now_rows, before_rows])
    days_of = day_column(table, timezone)
    now_days = answer_days(table, days_of, now_rows, now, timezone)
    before_days = answer_days(table, days_of, before_rows, before, timezone) if before is not None else []
    days = sorted(set(now_days) | set(before_days))

    # One bootstrap per period serves every grouping.
    now_versions = version_grouping(versions_of, now_rows, versions)
    version_groupings = [(now, now_versions)]
    # Agreement's coincidences are resampled with the same draws (rater_agreement.py).
    coincidences = coincidence_columns(now)
    now_fits, coincidence_replicates = grouped_and_extra(
        now,
        [
            whole(now.answer_ids.size),
            *(key.grouping for key in keys),
            now_versions,
            bucket_grouping(now_days, days, weekly=False),
        ],
        coincidences.columns,
        seed=seed,
        resamples=bootstrap,
        label="current",
    )
    alpha_replicates = split_replicates(coincidences.scale_sizes, coincidence_replicates)
    del coincidences, coincidence_replicates  # a large server's are several MB, not needed past this point
    now_fit = now_fits[0].fit(0)
    summary = _summary(now, now_fit)
    change_scales_differ = False
    version_parts: list[Grouped] = [now_fits[-2]]
    day_parts: list[Grouped] = [now_fits[-1]]
    before_summary = None
    mean_change = share_change = None
    previous_means = [PreviousMeans() for _ in DIMENSIONS]
    if before is not None:
        before_versions = version_grouping(versions_of, before_rows, versions)
        version_groupings.insert(0, (before, before_versions))
        before_fits = grouped(
            before,
            [
                whole(before.answer_ids.size),
                before_versions,
                bucket_grouping(before_days, days, weekly=False),
            ],
            seed=seed,
            resamples=bootstrap,
            label="previous",
        )
        before_fit = before_fits[0].fit(0)
        before_summary = _summary(before, before_fit)
        # As for scope versions (groups.version_comparison): periods not both rated on one and the same scale
        # give a mean-fit change that is a hint, and no fit-share change (the tops of two scales differ).
        change_scales_differ = scales_differ(_scale_sizes(before_summary), _scale_sizes(summary))
        mean_change = difference(before_fit, now_fit, 0, "previous period", "this period")
        if not change_scales_differ:
            share_change = difference(before_fit, now_fit, 1, "previous period", "this period")
        version_parts.insert(0, before_fits[1])
        day_parts.insert(0, before_fits[2])
        previous_means = [point_means(column, table.codes(column, before_rows), before) for column in columns]

    comments_by_answer: dict[int, list[CommentRow]] = defaultdict(list)
    for comment in current.comments:
        comments_by_answer[comment.answer_id].append(comment)
    context = Context(table, comments_by_answer, Aliases())
    comments = comments_with_text(current)
    language_of = {row.answer_id: row.language for row in current.answers}
    theme_summary, finding = themes(
        comments,
        comments_with_text(previous) if previous is not None else None,
        seed=seed,
        languages={language for c in comments if (language := language_of.get(c.answer_id))},
    )
    lowest, lowest_ties = lowest_fit(now, context)
    unknown = round(float(now.count[now_rows < 0].sum()))
    scope_changes, moderator_actions = _audit(current.audit)
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
        breakdowns=tuple(
            breakdown(dimension, key, fits, means)
            for dimension, key, fits, means in zip(
                DIMENSIONS, keys, now_fits[1 : 1 + len(DIMENSIONS)], previous_means, strict=True
            )
        ),
        versions=version_comparison(
            periods, version_parts, versions, current.scope_version, scales=group_scales(version_groupings)
        ),
        timeline=timeline(days, day_parts),
        # From the same bootstraps, so that the chart never needs the rows (the workers drop the previous
        # period's before making the files).
        weekly_timeline=timeline(days, day_parts, weekly=True) if spans_weeks([p.rows for p in periods]) else (),
        reasons=reason_tags(now, before),
        lowest_fit=lowest,
        lowest_fit_ties=lowest_ties,
        disagreement=disagreement(now, context, alpha_replicates),
        themes=theme_summary,
        quotes=quotes(comments, finding, now, context.aliases),
        scope_changes=scope_changes,
        moderator_actions=moderator_actions,
        notes=tuple(quality_notes(now, summary, before_summary, unknown)),
        comparisons=arm_comparisons(
            [(now, now_rows)] + ([(before, before_rows)] if before is not None else []),
            table,
            seed=seed,
            resamples=bootstrap,
        ),
        feedback_before=current.feedback_before,
        day_basis=timezone,
        change_scales_differ=change_scales_differ,
    )
