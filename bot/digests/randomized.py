"""Randomized comparisons of scope versions in the digest: each arm's fit and alternative - current.

Members, not answers, were assigned to the arms (bot/scopes/comparisons.py), and one member's answers are
alike (the same person asking, often the same raters), so the intervals here resample **members**: each
arm's rated answers are totalled per asking member, and each arm's members are resampled on their own (the
arms are independent samples of members). Resampling answers instead would treat a busy member's twenty
answers as twenty independent draws and give intervals that are too narrow.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.digests.bootstrap import FloatArray, IntArray, percentile_intervals, rng_for
from bot.digests.estimates import MIN_BOOTSTRAP_UNITS, NO_FIT, Fit, difference, estimate, zero_spread
from bot.digests.groups import (
    BOTH_PERIODS,
    THIS_PERIOD,
    VERSION_FEW_RATINGS,
    lead_sentence,
    scale_caveat,
    scales_differ,
)
from bot.digests.model import FEW_ARM_MEMBERS, NO_SPREAD, ONE_MEMBER, ArmComparison, Difference, Estimate, GroupFit
from bot.digests.periods import AnswerTable, RatedPeriod
from bot.wording import counted

ARMS = ("current", "alternative")
FEW_MEMBERS = 10  # below this many rated members in an arm, a difference is read as a hint
# The audit row storage writes when a comparison starts (bot/storage/sqlite/comparisons.py), e.g. "comparison 3:
# version 2 (current) against version 1 for 50% of members": each arm's version, for an arm without answers.
STARTED = "comparison.start"
_STARTED_DETAIL = re.compile(r"comparison (\d+): version (\d+) \(current\) against version (\d+)\b")


@dataclass(frozen=True, slots=True)
class _Arm:
    """One arm: its fit with member-resampled replicates (as `Fit`), and how many members and answers."""

    fit: Fit
    members: int  # asking members with rated answers
    answers: int  # every answer in the arm in the periods pooled, rated or not


def _arm(
    count: FloatArray, sums: FloatArray, answers: int, rated: int, resamples: int, rng: np.random.Generator
) -> _Arm:
    """`count` and `sums` (fit, top) per asking member; members resampled with replacement."""
    members = count.size
    if not members:
        return _Arm(NO_FIT, 0, answers)
    point = sums.sum(axis=1) / count.sum()
    ratings = round(float(count.sum()))
    if members < 2:  # one member: nothing to resample, however many answers they asked
        estimates = [Estimate(float(value), None, None, rated, ratings, ONE_MEMBER) for value in point]
        return _Arm(Fit(estimates[0], estimates[1], np.empty((2, 0))), members, answers)
    draws = rng.integers(0, members, size=(resamples, members))
    replicates: FloatArray = sums[:, draws].sum(axis=2) / count[draws].sum(axis=1)
    low, high = percentile_intervals(replicates)
    alike = zero_spread(replicates)
    # The rules of estimates.py, with members as the resampling unit: an exact interval at 0 or 1, none when
    # every replicate is alike elsewhere.
    estimates = [
        estimate(
            float(point[statistic]),
            float(low[statistic]),
            float(high[statistic]),
            bool(alike[statistic]),
            members,
            rated,
            ratings,
            few=FEW_ARM_MEMBERS,
        )
        for statistic in range(2)
    ]
    return _Arm(Fit(estimates[0], estimates[1], replicates), members, answers)


def arm_comparisons(
    parts: Sequence[tuple[RatedPeriod, IntArray]], table: AnswerTable, *, seed: int, resamples: int
) -> tuple[ArmComparison, ...]:
    """Every comparison with answers in the period, the first of `parts` (this period, then the previous one),
    pooled over all the parts: a comparison usually runs across digests, and each week alone is too small a slice
    of it. Each part pairs a period with each of its rated answers' row in `table` (-1 when it is in neither
    period's rows: it then counts in no arm). A member's answers in both periods count as one member's."""
    now = Counter(row.arm for row in parts[0][0].rows.answers if row.arm is not None)
    # Answers over the same periods as the ratings pooled below (more rated answers than answers otherwise).
    own = Counter(row.arm for period, _ in parts for row in period.rows.answers if row.arm is not None)
    rated: list[tuple[IntArray, list[str | None]]] = []  # each part's rated answers in `table`, and their arms
    for _, positions in parts:
        known = np.flatnonzero(positions >= 0)
        rated.append((known, [table.rows[positions[i]].arm for i in known.tolist()]))
    keys = sorted(set(now) | {arm for arm in rated[0][1] if arm is not None})
    comparisons = sorted({int(key.partition(":")[0]) for key in keys})
    versions: dict[str, Counter[int | None]] = {}
    for row in table.rows:
        if row.arm is not None:
            versions.setdefault(row.arm, Counter())[row.scope_version] += 1
    started = _started_versions(parts)
    result = []
    for comparison in comparisons:
        rng = rng_for(seed, "comparison", str(comparison))
        arms: list[_Arm] = []
        labels: list[str] = []
        arm_scales: list[tuple[int, ...]] = []
        periods_used = 0
        for arm in ARMS:
            key = f"{comparison}:{arm}"
            askers: list[str] = []
            weights: list[FloatArray] = []
            sizes: set[int] = set()
            for (period, positions), (known, arm_of) in zip(parts, rated, strict=True):
                chosen = known[[index for index, found in enumerate(arm_of) if found == key]]
                askers += [table.rows[positions[i]].asker_hash for i in chosen.tolist()]
                weights.append(np.vstack([period.count[chosen], period.fit_sum[chosen], period.top_sum[chosen]]))
                in_arm = np.zeros(period.answer_ids.size, dtype=bool)
                in_arm[chosen] = True
                sizes.update(np.unique(period.scale[in_arm[period.rating_index]]).tolist())
            arm_scales.append(tuple(sorted(sizes)))
            member_of = {asker: code for code, asker in enumerate(dict.fromkeys(askers))}
            codes = np.fromiter(map(member_of.__getitem__, askers), np.int64, count=len(askers))
            pooled = np.hstack(weights) if weights else np.zeros((3, 0))
            totals = np.vstack(
                [np.bincount(codes, weights=pooled[row], minlength=len(member_of)) for row in range(3)]
            ).astype(np.float64)
            arms.append(_arm(totals[0], totals[1:], own.get(key, 0), len(askers), resamples, rng))
            periods_used = max(periods_used, sum(1 for weight in weights if weight.shape[1]))
            counted = versions.get(key)
            # An arm no member in it asked in yet has no answer to take its version from: its comparison's start.
            version = counted.most_common(1)[0][0] if counted else started.get(key)
            labels.append(f"{arm} version" + (f" (v{version})" if version is not None else ""))
        current, alternative = arms
        groups = [
            GroupFit(f"{comparison}:{arm}", label, group.answers, group.fit.mean_fit, group.fit.fit_share, None, 0)
            for arm, label, group in zip(ARMS, labels, arms, strict=True)
        ]
        confounded = scales_differ(*arm_scales)
        mean_change = difference(current.fit, alternative.fit, 0, *labels)
        share_change = None if confounded else difference(current.fit, alternative.fit, 1, *labels)
        window = BOTH_PERIODS if periods_used > 1 else THIS_PERIOD
        note = _note(comparison, mean_change, current, alternative, window, confounded=confounded)
        if confounded:
            caveat = scale_caveat("the current arm", arm_scales[0], "the alternative arm", arm_scales[1])
            note = f"{caveat} {note}"
        result.append(
            ArmComparison(
                comparison,
                groups[0],
                groups[1],
                mean_change,
                share_change,
                note,
                current_scales=arm_scales[0],
                alternative_scales=arm_scales[1],
                scales_differ=confounded,
                window=window,
            )
        )
    return tuple(result)


def _started_versions(parts: Sequence[tuple[RatedPeriod, IntArray]]) -> dict[str, int]:
    """Each arm's version ("3:alternative" -> 1) as the audit rows of comparisons started in the periods say."""
    found: dict[str, int] = {}
    for period, _ in parts:
        for row in period.rows.audit:
            match = _STARTED_DETAIL.match(row.detail) if row.action == STARTED else None
            if match is not None:
                comparison, current, alternative = match.groups()
                found[f"{comparison}:current"] = int(current)
                found[f"{comparison}:alternative"] = int(alternative)
    return found


def _note(
    comparison: int, change: Difference, current: _Arm, alternative: _Arm, window: str, *, confounded: bool = False
) -> str:
    if not current.members and not alternative.members:
        return f"Comparison #{comparison}: no rated answers in either arm in {window} yet."
    if not current.members or not alternative.members:
        rated = change.b if alternative.members else change.a
        return f"Comparison #{comparison}: only the {rated} has rated answers in {window}; nothing to compare yet."
    if change.low is None or change.high is None or change.value is None:
        return f"Comparison #{comparison}: {_no_interval(change, current, alternative)} Rated answers from {window}."
    members = min(current.members, alternative.members)
    ratings = min(current.fit.mean_fit.ratings, alternative.fit.mean_fit.ratings)
    if members < FEW_MEMBERS and ratings >= VERSION_FEW_RATINGS:
        lead = f"With only {members} asking members on one side, read this as a hint."
    else:
        undecided = "the data cannot tell the two versions apart yet"
        lead = lead_sentence(change, ratings, f"the {change.b}", f"the {change.a}", undecided, confounded=confounded)
    return (
        f"{lead} Rated answers from {window}. Members were assigned to the versions at random and rated over the "
        "same days, so, unlike the "
        "before/after comparison, time and the mix of questions do not explain a difference; who chose to rate "
        "still may. Intervals resample members, the unit that was randomized."
    )


def _no_interval(change: Difference, current: _Arm, alternative: _Arm) -> str:
    """Why the mean-fit difference of two rated arms has no interval: each arm's reason for having none."""
    reasons = []
    for label, arm in ((change.a, current), (change.b, alternative)):
        if arm.fit.mean_fit.interval == ONE_MEMBER:
            reasons.append(f"the {label} has rated answers from one asking member only, who cannot be resampled")
        elif arm.fit.mean_fit.interval == FEW_ARM_MEMBERS:
            members = counted(arm.members, "asking member")
            reasons.append(
                f"the {label} has rated answers from {members} only, too few to resample (at least "
                f"{MIN_BOOTSTRAP_UNITS} are needed)"
            )
        elif arm.fit.mean_fit.interval == NO_SPREAD:
            reasons.append(
                f"every resample of the members under the {label} gives the same mean fit, so its uncertainty is not "
                "measured"
            )
    if not reasons:  # both arms have intervals, yet no resample of members gave the difference a value
        reasons.append("no resample of the members gave it a value")
    return f"the difference has no interval: {'; and '.join(reasons)}."
