"""Data-quality notes: what a reader must know before trusting the digest's numbers."""

from __future__ import annotations

import numpy as np

from bot.digests.formatting import instant, percent
from bot.digests.model import EXACT, NO_SPREAD, ONE_ANSWER, PeriodSummary, QualityNote
from bot.digests.periods import RatedPeriod
from bot.wording import counted

SMALL_N = 30  # ratings
SMALL_ANSWERS = 20  # rated answers: the unit the bootstrap resamples
FEW_RATERS = 5
DOMINANT_SHARE = 0.5  # of the ratings, from one member
# Rater concentration: the fewest members who together gave at least half of the ratings (the most active first).
# With an even spread that takes half of the raters; it is noted when it takes at most this share of them (and
# there are FEW_RATERS or more, and no one member gave more than half: those have notes of their own).
CONCENTRATED_RATERS = 1 / 3
LOW_RATED_SHARE = 0.3  # of the answers
ASKER_SHARE = 0.5  # of the ratings, by the member who asked the question
FAILED_SHARE = 0.1  # of the answers, failed or incomplete


def quality_notes(
    current: RatedPeriod, summary: PeriodSummary, previous: PeriodSummary | None, unknown_ratings: int
) -> list[QualityNote]:
    notes: list[QualityNote] = []
    d = summary.denominators
    if previous is None:
        notes.append(QualityNote("no_previous", "No previous period to compare with: changes are not shown."))
    elif previous.denominators.ratings == 0 and d.ratings:
        # A server's first digest, or one after a quiet period: its rows were read, and hold no rating.
        notes.append(
            QualityNote("no_previous", "The previous period has no ratings to compare with: changes are not shown.")
        )
    if previous is not None and (unequal := _unequal_lengths(summary, previous)):
        notes.append(QualityNote("unequal_periods", unequal))
    if d.answers == 0 and d.ratings == 0:
        notes.append(QualityNote("empty", "No answers and no ratings in this period: there is nothing to summarise."))
    elif d.ratings == 0:
        notes.append(
            QualityNote("no_ratings", f"{counted(d.answers, 'answer')}, none rated: there is no fit to report.")
        )
    elif d.ratings < SMALL_N:
        notes.append(
            QualityNote(
                "small_n", f"Only {counted(d.ratings, 'rating')}: treat percentages as anecdotes, not estimates."
            )
        )
    elif d.rated_answers < SMALL_ANSWERS:
        notes.append(
            QualityNote(
                "small_n",
                f"Only {counted(d.rated_answers, 'rated answer')}, for {counted(d.ratings, 'rating')}: "
                "the intervals resample answers, so "
                "they rest on a handful of them; treat percentages as anecdotes, not estimates.",
            )
        )
    if previous is not None and d.ratings:
        p = previous.denominators
        if p.ratings > 0 and (p.ratings < SMALL_N or p.rated_answers < SMALL_ANSWERS or p.unique_raters < FEW_RATERS):
            notes.append(
                QualityNote(
                    "small_previous",
                    f"The previous period had only {counted(p.ratings, 'rating')} of "
                    f"{counted(p.rated_answers, 'answer')} from {counted(p.unique_raters, 'member')}: "
                    "the changes against it rest on little; read them as hints.",
                )
            )
    if 0 < d.unique_raters < FEW_RATERS:
        # What it says of the intervals only where the headline has one (one answer, say, has none).
        fit = summary.fit
        intervals = (
            f", and the intervals, which resample answers, are likely too narrow ({_NOT_INDEPENDENT})"
            if fit.mean_fit.low is not None or fit.fit_share.low is not None
            else ""
        )
        notes.append(
            QualityNote(
                "few_raters",
                f"Only {counted(d.unique_raters, 'member')} rated answers: the numbers describe them, "
                f"not the community{intervals}.",
            )
        )
    if d.unique_raters >= 2:
        per_member = np.bincount(current.rater)
        top_share = float(per_member.max()) / d.ratings
        if top_share > DOMINANT_SHARE:
            notes.append(
                QualityNote(
                    "dominant_rater",
                    f"One member gave {percent(top_share)} of the ratings: the averages mostly reflect one view, "
                    f"and the intervals, which resample answers, are likely too narrow ({_NOT_INDEPENDENT}).",
                )
            )
        elif d.unique_raters >= FEW_RATERS:
            concentrated = rater_concentration(per_member)
            if concentrated is not None:
                notes.append(concentrated)
    own = sum(1 for rating in current.ratings if rating.is_asker)
    if d.ratings and own / d.ratings > ASKER_SHARE:
        notes.append(
            QualityNote(
                "askers_rating",
                f"Askers rating the answer to their own question gave {own} of the {d.ratings} ratings "
                f"({percent(own / d.ratings)}): they judge whether it helped them as well as whether it fits the "
                "community.",
            )
        )
    if d.share_rated is not None and d.ratings > 0 and d.share_rated < LOW_RATED_SHARE:
        notes.append(
            QualityNote(
                "many_unrated",
                f"{percent(1 - d.share_rated)} of the answers that could be rated were not: rated answers may not "
                "represent the rest (members tend to rate answers that struck them).",
            )
        )
    failed = d.answers_by_outcome.get("failed", 0) + d.answers_by_outcome.get("incomplete", 0)
    if d.answers and failed / d.answers > FAILED_SHARE:
        notes.append(
            QualityNote(
                "failed_answers",
                f"{percent(failed / d.answers)} of the answers failed or were incomplete "
                f"({d.answers_by_outcome.get('failed', 0)} failed, {d.answers_by_outcome.get('incomplete', 0)} "
                "incomplete): check the model service before reading fit.",
            )
        )
    if summary.fit.all_equal and d.ratings >= 2:
        # On more than one scale, equal fits are different values ("Partly fits" of 3 and 3 of 5 are both 0.5).
        same = "the same value" if len(summary.fit.distribution) <= 1 else "the same fit (0 to 1) on its scale"
        notes.append(
            QualityNote(
                "all_equal",
                # Every resample is then alike: the no_spread note after it says what interval that leaves (an
                # exact one at 0 or 1, none elsewhere).
                f"Every rating had {same}: the ratings show no variation to learn from, and resampling "
                "them cannot measure how uncertain the numbers are (the note on intervals says what is shown).",
            )
        )
    # The previous period's numbers matter here only through the changes, shown when this period has ratings.
    for name, period in (("This period", summary), ("The previous period", previous if d.ratings else None)):
        message = _no_spread(name, period) if period is not None else None
        if message:
            notes.append(QualityNote("no_spread", message))
        if period is not None and period.fit.mean_fit.interval == ONE_ANSWER:
            notes.append(QualityNote("one_answer", _one_answer(name, period is summary, previous is not None)))
    scales = {counts.scale_size for counts in summary.fit.distribution}
    earlier = {counts.scale_size for counts in previous.fit.distribution} if previous is not None else set()
    if scales and earlier and scales != earlier:
        notes.append(
            QualityNote(
                "scale_changed",
                f"The rating scale changed: {_scales(earlier)} in the previous period, {_scales(scales)} in this one. "
                "The fit share counts the top of each scale, which are different thresholds, and a point on one "
                "scale is not the same step on the other: part of any change versus the previous period (and "
                "between scope versions used under different scales) can come from the scale itself, so the "
                "change in fit share is not given and the change in mean fit is a hint, not a finding.",
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
                f"Ratings of answers missing from the rows: {unknown_ratings}. They count in the totals but "
                "appear as 'answer not in the rows' in the breakdowns.",
            )
        )
    if current.invalid_ratings:
        notes.append(
            QualityNote(
                "invalid_ratings",
                f"Ratings with a value outside their scale, ignored: {current.invalid_ratings}.",
            )
        )
    purged = sum(1 for comment in current.rows.comments if not comment.text.strip())
    if purged:
        notes.append(
            QualityNote(
                "purged_text",
                f"Comments with no text (removed by the retention job, or empty): {purged}.",
            )
        )
    return notes


UNEQUAL_BY = 0.05  # periods whose lengths differ by more than this share (a month against February, not a DST week)


def _unequal_lengths(summary: PeriodSummary, previous: PeriodSummary) -> str | None:
    """What a reader of the changes needs to know when the two periods differ in length, or None."""
    spans = []
    for period in (summary, previous):
        start, end = instant(period.start), instant(period.end)
        if start is None or end is None or end <= start:
            return None
        spans.append((end - start).total_seconds() / 86400)
    now, before = spans
    if abs(now - before) <= UNEQUAL_BY * max(now, before):
        return None
    d, p = summary.denominators, previous.denominators
    return (
        f"This period is {_days(now)} long and the previous one {_days(before)}: the changes in counts (answers, "
        f"ratings, comments) compare unequal spans. Per day, {_rate(d.answers / now)} answers and "
        f"{_rate(d.ratings / now)} ratings against {_rate(p.answers / before)} and {_rate(p.ratings / before)}; "
        "shares and mean fit do not depend on the length."
    )


def _rate(per_day: float) -> str:
    return f"{per_day:.0f}" if per_day >= 10 else f"{per_day:.1f}" if per_day >= 1 else f"{per_day:.2f}"


def _days(days: float) -> str:
    whole = round(days)
    return counted(whole, "day") if abs(days - whole) < 0.05 else f"{days:.1f} days"


_NOT_INDEPENDENT = "one member's ratings of different answers are not independent, and answers are the unit resampled"


def rater_concentration(per_member: np.ndarray) -> QualityNote | None:
    """The note when few members gave most of the ratings (`per_member`: ratings per member who rated): the fewest
    members, the most active first, who together gave at least half of them, when they are at most
    CONCENTRATED_RATERS of the members who rated; None otherwise."""
    counts = np.sort(per_member[per_member > 0])[::-1]
    total = int(counts.sum())
    if not total:
        return None
    cumulative = np.cumsum(counts)
    members = int(np.searchsorted(2 * cumulative, total)) + 1  # the first whose running total reaches half
    raters = counts.size
    if members > raters * CONCENTRATED_RATERS:
        return None
    given = int(cumulative[members - 1])
    who = "The most active member" if members == 1 else f"The {members} most active members"
    return QualityNote(
        "concentrated_raters",
        f"{who} of the {raters} who rated gave {percent(given / total)} of the ratings ({given} of {total}): the "
        f"numbers lean on their views, and the intervals, which resample answers, may be too narrow "
        f"({_NOT_INDEPENDENT}).",
    )


def _no_spread(name: str, period: PeriodSummary) -> str | None:
    """What a period's headline fit shows where every resample gives the same value (estimates.py), or None."""
    share, mean = period.fit.fit_share, period.fit.mean_fit
    kinds = {share.interval, mean.interval}
    if not kinds & {EXACT, NO_SPREAD}:
        return None
    if mean.interval == EXACT and mean.value == 1:
        fact = "every rating was at the top (fit share 100%, mean fit 1.00)"
    elif mean.interval == EXACT:
        fact = "every rating was at the bottom (fit share 0%, mean fit 0.00)"
    else:
        facts = []
        if share.interval == EXACT:
            facts.append("no rating was at the top (fit share 0%)")
        elif share.interval == NO_SPREAD:
            facts.append(f"every answer had the same share of ratings at the top ({percent(share.value)})")
        if mean.interval == NO_SPREAD and mean.value is not None:
            facts.append(f"every answer's ratings averaged the same mean fit ({mean.value:.2f})")
        fact = " and ".join(facts)
    shown = []
    if EXACT in kinds:
        shown.append(
            "at 0% or 100% (0 or 1) the interval shown is the exact (Clopper-Pearson) 95% interval for "
            f"{counted(share.answers, 'rated answer')}, each counted once as the unit the bootstrap resamples "
            "(a change against it combines that interval with the other side's)"
        )
    if NO_SPREAD in kinds:
        shown.append("elsewhere no interval is shown, nor for a change against it")
    return (
        f"{name}: {fact}. Every resample of answers gives the same value there, so a bootstrap cannot give an "
        f"interval: {'; '.join(shown)}."
    )


def _one_answer(name: str, this: bool, compared: bool) -> str:
    """Why a period's headline fit (and every change against it) has no interval: it has one rated answer.
    `this`: the period is this one (not the previous); `compared`: there is a previous period to compare with."""
    if this:
        shown = "its fit has no interval" + (", nor has the change versus the previous period" if compared else "")
    else:
        shown = "the changes against it have no interval"
    return (
        f"{name} has one rated answer: a bootstrap resamples answers, and one answer has nothing to resample, so "
        f"{shown} (one answer: no interval)."
    )


def _scales(sizes: set[int]) -> str:
    return " and ".join(f"{size}-point" for size in sorted(sizes))
