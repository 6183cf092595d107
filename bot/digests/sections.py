"""The report's content, as document blocks, from a Digest (the same for Markdown and HTML)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from bot.digests import formatting as fmt
from bot.digests.commentary import QUOTE_EXCERPT
from bot.digests.document import Block, BlockQuote, Bullets, Code, Heading, Paragraph, Table
from bot.digests.followup import LOWEST_FIT_LIMIT
from bot.digests.groups import DIMENSIONS, THIS_PERIOD, day_zone, local_day
from bot.digests.model import (
    FEW_ANSWERS,
    NO_DECISION,
    NO_SPREAD,
    ONE_ANSWER,
    TAKING_PART,
    AnswerNote,
    Breakdown,
    Denominators,
    Difference,
    Digest,
    Estimate,
    GroupFit,
    PeriodSummary,
    ScaleCounts,
    VersionComparison,
)
from bot.digests.rater_agreement import ALPHA_NO_SPREAD, ALPHA_UNDEFINED_LIMIT, ALPHA_UNSTABLE
from bot.digests.text import channel_label
from bot.wording import counted

MAX_GROUPS = 15  # rows per breakdown table; all groups are in digest.json
CHART_AFTER = 3  # block index: the chart goes after the title, period line, summary heading and summary list

HOW_TO_READ = (
    'Fit share is the share of ratings at the top of the scale ("Fits" on the 3-point scale, 5 on the '
    "5-point scale). Mean fit puts every rating on 0–1: (value − 1) / (scale size − 1), so a 3-point "
    '"Partly fits" is 0.5 and 3- and 5-point ratings combine. The tops of the two scales are different marks (5 of '
    '5 is rarer than "Fits"), so fit shares are not compared between periods, scope versions or arms rated on '
    "different scales (or mixing them), and their mean-fit difference is read as a hint: a step on one scale is "
    "not the same step on another.",
    '"95% CI" is a bootstrap interval: answers (not single ratings, since ratings of one answer are related) '
    "are resampled with replacement many times and the statistic recomputed; the interval holds the middle 95% "
    "of the results. It reflects sampling noise only, not who chose to rate: ratings come from members who "
    "consented and chose to rate, which is not a random sample. Answers are the unit: ratings by the same member "
    "across answers are not independent either, and resampling answers does not allow for that, so the intervals "
    "may be too narrow when few members give most of the ratings (a data-quality note says when: when one member "
    "gave more than half of them, or the fewest members giving half of them are at most a third of those who "
    "rated).",
    "Where every resample gives the same value, a bootstrap has no interval to give. At 0% or 100% (a mean fit of "
    '0 or 1) the report then shows the exact (Clopper-Pearson) 95% interval, marked "exact", counting each '
    "rated answer once (each member, in randomized comparisons): with 25 answers all at the top, 86–100%. A "
    "change against such a number combines the two sides' intervals (MOVER) instead of resampling. Anywhere "
    'else (every answer averaging the same, such as all "Partly fits") no interval is shown.',
    "A group with one rated answer (a period, scope version, language, channel, topic or day) has no interval "
    'either: one answer has nothing to resample. Its numbers say "no interval: one rated answer", a change against '
    'it "no interval: a side has one rated answer", and digest.json marks its interval "one_answer". The Summary '
    "does not state a change without an interval as a number (it rests on too few ratings); the sections below "
    "give it.",
    "A group with two to four rated answers has no interval either, but for the exact one at 0% or 100%: "
    "resamples of so few answers take a handful of values (two answers give three), and a percentile interval "
    'from them would read far more precise than it is. Its numbers say "no interval: 3 rated answers, too few to '
    'resample", and digest.json marks it "few_answers" ("few_members" for a randomized arm of two to four asking '
    "members).",
    "With few ratings (see the data-quality notes) percentages are anecdotes; intervals of groups with only five "
    "to twenty or so answers are rough. Overlapping intervals of two groups do not show that they are equal; use the "
    "interval of the difference where one is given.",
    "Changes compare this period with the previous one (its dates are under the title: the schedule's interval "
    "before this one, so a month is compared with the whole month before, which may be shorter or longer, as a "
    "data-quality note then says; else an equally long span), read as known at this period's end (or "
    "at the time given above): with the ratings and comments its answers received, and the ratings changed, "
    "after it ended (so its numbers can differ a little from its own digest's). Its answers so had longer to "
    "collect ratings, comments and reason tags than this period's: changes in those counts lean downward even "
    "when members are as engaged as before; fit compares better than counts. Scope-version comparisons are "
    "observational (questions, members and time differ too), not an experiment. Randomized comparisons are: "
    "members were assigned to the versions at random (a hash of their pseudonym) and kept their version; their "
    "intervals resample members. Answers in a randomized comparison are left out of the before/after comparison.",
    "Members appear as Member A, B, … within this digest only; the letters do not carry over between digests. "
    "Comments are shown (as quotes, and under the lowest-fit and split answers) only from members who allowed "
    "anonymous quoting; the others are counted, and only the data files hold their text. A quote longer than "
    f'{QUOTE_EXCERPT:,} characters is shortened and ends in "…"; the comment id under it finds the full text '
    "in comments.csv and comments.jsonl. Long comments next to the lowest-fit and split answers are shortened "
    "likewise (the data files hold them in full under the comment id shown with each). A question is shown only "
    "when it was asked in public and its asker allows quoting (as of this digest); a private answer (/ask "
    "private:True) shows neither its question nor its text. The data files hold every question and answer.",
    "Themes are word groupings to start reading from, not a qualitative coding; the method is described above.",
    "The data files (CSV and JSONL: answers, ratings with a 0–1 fit column, reasons, and every comment, "
    "quotable or not, with its quotable flag) hold this period's pseudonymised rows for R, pandas or a "
    "qualitative-analysis tool; quote only comments whose quotable flag is true.",
)


ALPHA_BY_SCALE_READ = (
    "Agreement across raters (Krippendorff's alpha) is computed within each rating scale, not on the 0–1 fit "
    'scale that combines them: there a 3-point "Partly fits" and a 5-point 3 would count as one value, and the '
    "ordinal metric's category frequencies would mix the two scales. Each scale's alpha stands on its own answers "
    "(those rated by two or more members on that scale); a rating whose answer has no other rating on its scale "
    "is in neither. digest.json gives each in disagreement.alpha_by_scale; disagreement.alpha is the one of "
    "alpha_scale, and alpha_left_out counts the ratings in neither."
)


ALPHA_INTERVAL_READ = (
    "Krippendorff's alpha comes with a 95% interval from the same resamples of answers as the fits' intervals "
    "(digest.json: low and high in disagreement.alpha_by_scale, alpha_low and alpha_high for the headline scale). "
    "Over a few dozen answers it is wide: a reading whose interval reaches across 0.667 or 0.8 (Krippendorff's "
    "thresholds) is said not to be settled, and one whose interval includes 0 leaves agreement no better than chance "
    "open. There is none when every resample with an alpha gives the same one "
    f'("{ALPHA_NO_SPREAD}": as a rule, every answer\'s ratings agree) or when more than '
    f"{ALPHA_UNDEFINED_LIMIT:.0%} of resamples have no variation to compute alpha from "
    f'("{ALPHA_UNSTABLE}": alpha then rests on a few answers whose ratings vary); digest.json gives the reason in '
    "interval (alpha_interval for the headline scale)."
)


def _alpha_read(digest: Digest) -> tuple[str, ...]:
    """How alpha reads: its interval, whenever a scale has an alpha; and when the answers rated by two or more
    members were rated on more than one scale, why each scale has its own."""
    d = digest.disagreement
    interval = (ALPHA_INTERVAL_READ,) if any(entry.alpha is not None for entry in d.alpha_by_scale) else ()
    return (*interval, *((ALPHA_BY_SCALE_READ,) if len(d.alpha_by_scale) > 1 or d.alpha_left_out else ()))


def _days_read(day_basis: str) -> str:
    """How fit over time counts days: on the clocks of the server's time zone (`Digest.day_basis`)."""
    return (
        "Fit over time (the chart's line, and the timeline in digest.json, whose day_basis says so) counts each "
        f"answer on the day it was asked in {day_basis}, and weeks from Monday there; a period that does not start "
        "at midnight there begins and ends with part of a day."
    )


def _rated_line(d: Denominators) -> str:
    """The Summary's line on how much was rated; plain words when nothing could be rated or was."""
    if not d.ratable_answers and not d.ratings:
        return "Rated: nothing (no answer that could be rated, no rating)"
    return (
        f"Rated: {fmt.percent(d.share_rated)} of the {counted(d.ratable_answers, 'answer')} that could be rated "
        f"({_rated(d)}), {counted(d.ratings, 'rating')} by {counted(d.unique_raters, 'member')}"
    )


def _rated(d: Denominators) -> str:
    """The rated answers behind the share rated, and those outside its denominator (failed or refused answers,
    which have no rating controls, rated with a reaction all the same: their ratings count in the fit)."""
    rated = counted(d.rated_answers - d.rated_unratable, "rated answer")
    if not d.rated_unratable:
        return rated
    return f"{rated}; {counted(d.rated_unratable, 'failed or refused answer')} rated too, counted in the fit"


def _summary(digest: Digest) -> list[Block]:
    now = digest.current
    d = now.denominators
    outcome_parts = ", ".join(f"{count} {outcome}" for outcome, count in d.answers_by_outcome.items() if count)
    items = [
        f"Answers: {d.answers}" + (f" ({outcome_parts})" if outcome_parts else ""),
        _rated_line(d),
        f"Fit share: {fmt.share_with_ci(now.fit.fit_share)}",
        f"Mean fit (0–1): {fmt.fit_with_ci(now.fit.mean_fit)}",
        f"Comments: {d.comments} ({d.quotable_comments} quotable); reason tags: {d.reason_tags}",
        f"Members who declined: {d.declined}; who withdrew or lowered consent: {d.withdrew}",
    ]
    items.append(f"Versus the previous period: {period_change(digest)}")
    versions = digest.versions
    if versions.mean_fit_change is not None:
        compared = f"{versions.latest} versus {versions.prior} ({versions.window}"
        if _current_unrated(versions):
            compared = f"Scope version {compared}; {versions.current}, in use at the period's end, has no ratings yet)"
        else:
            compared = f"Latest scope version {compared})"
        hint = "; rated on different scales, so a hint, not a finding" if versions.scales_differ else ""
        change = headline_change("mean fit", versions.mean_fit_change, fmt.fit_change)
        items.append(f"{compared}: {change}{hint}")
    return [Heading(2, "Summary"), Bullets(tuple(items))]


def scales_hint(digest: Digest) -> str:
    """Why the change versus the previous period is a hint (`Digest.change_scales_differ`), as a clause."""
    previous = digest.previous.fit.distribution if digest.previous is not None else ()
    current = digest.current.fit.distribution
    before, now = _scale_shares(previous), _scale_shares(current)
    if before.keys() == now.keys():  # the same scales, mixed: in proportions that differ, or could
        return (
            f"rated on a mix of {fmt.scale_sizes(sorted(now))} scales in both periods (ratings on each: "
            f"{_shares_then(before, now)}), so a hint, not a finding"
        )
    sides = "; ".join(
        f"{name}: {fmt.scale_sizes([counts.scale_size for counts in distribution])}"
        for name, distribution in (("previous period", previous), ("this period", current))
    )
    return f"rated on different scales ({sides}), so a hint, not a finding"


def _scale_shares(distribution: Iterable[ScaleCounts]) -> dict[int, float]:
    """Each rating scale's share of a period's ratings."""
    return _shares((counts.scale_size, sum(counts.counts)) for counts in distribution)


def _shares(scale_ratings: Iterable[tuple[int, int]]) -> dict[int, float]:
    """Each scale size's share of the ratings, from (size, ratings) pairs."""
    ratings = dict(scale_ratings)
    total = sum(ratings.values())
    return {size: count / total for size, count in ratings.items()} if total else {}


def _shares_then(before: dict[int, float], now: dict[int, float]) -> str:
    """ "3-point 80% then 65%, 5-point 20% then 35%": each scale's share of the ratings, previous period first."""
    return ", ".join(f"{size}-point {fmt.percent(before[size])} then {fmt.percent(now[size])}" for size in sorted(now))


def period_change(digest: Digest) -> str:
    """The change versus the previous period as the Summary states it: a change without an interval is not stated
    as a number (`headline_change`), and one across rating scales is a hint, without a fit-share change (as for
    scope versions). The Fit distribution section gives every number."""
    if digest.previous is None:
        return "no previous period"
    if not digest.previous.denominators.ratings:
        return "no ratings in the previous period to compare with"
    mean_change, share_change = digest.mean_fit_change, digest.fit_share_change
    mean = headline_change("mean fit", mean_change, fmt.fit_change)
    if digest.change_scales_differ:
        return (
            f"{mean}; {scales_hint(digest)}; fit share not compared (the tops of two scales are different thresholds)"
        )
    if _unstated(mean_change) and _unstated(share_change):
        assert mean_change is not None
        assert share_change is not None
        reason = unstated_change(mean_change)
        if reason == unstated_change(share_change):  # one reason for both: said once
            return f"no change stated, {reason}; the Fit distribution section gives the numbers"
    return f"{headline_change('fit share', share_change, fmt.share_change)}, {mean}"


def _unstated(change: Difference | None) -> bool:
    """Whether a change has a value but no interval: a headline does not state it (`headline_change`)."""
    return change is not None and change.value is not None and (change.low is None or change.high is None)


def unstated_change(change: Difference) -> str:
    """What a headline (the Summary, the embed) says instead of a change without an interval: the number alone
    would read as a finding. The sections below the Summary give the number with its reason."""
    if change.interval == NO_SPREAD:
        return "every resample of a side gives the same value (its uncertainty is not measured)"
    return f"it rests on too few ratings ({fmt.NO_DIFFERENCE_REASON.get(change.interval, 'no interval')})"


def headline_change(name: str, change: Difference | None, formatted: Callable[[Difference | None], str]) -> str:
    """A named change as a headline gives it: "mean fit +0.05 (95% CI …)" (`formatted`: fmt.fit_change or
    fmt.share_change), or, without an interval, "mean fit change not stated, it rests on …" (`unstated_change`)."""
    if change is not None and _unstated(change):
        return f"{name} change not stated, {unstated_change(change)}"
    return f"{name} {formatted(change)}"


# Why an estimate has no interval, as the chart's note says it.
_WITHOUT_INTERVAL = {
    ONE_ANSWER: "one rated answer",
    FEW_ANSWERS: "too few rated answers to resample",
    NO_SPREAD: "every answer averaging the same",
}


def _why_none(estimate: Estimate) -> str:
    return _WITHOUT_INTERVAL.get(estimate.interval, "no resample drawing it")


def chart_note(digest: Digest) -> list[Paragraph]:
    """Under the chart (and in Markdown, after the summary): which of its points have no band, and which versions
    no whisker, and why; nothing when every one has its interval. The points are the chart's line with the
    digest's own periods (weekly when `weekly_timeline` is given), as chart.py draws it."""
    points = digest.weekly_timeline or digest.timeline
    unit = "week" if digest.weekly_timeline else "day"
    bare_points = [p for p in points if p.mean_fit.value is not None and p.mean_fit.low is None]
    bare = [p.mean_fit for p in bare_points]
    versions = [g for g in digest.versions.versions if g.mean_fit.value is not None and g.mean_fit.low is None]
    sentences = []
    if bare:
        reasons = Counter(map(_why_none, bare))
        listed = " and ".join(f"{counted(number, unit)} with {reason}" for reason, number in reasons.items())
        # The line runs over the previous period too: say how many of the bare points are its own.
        first = local_day(digest.start, day_zone(digest.day_basis))
        earlier = sum(1 for p in bare_points if p.day < first)
        window = f" ({earlier} of them in the previous period)" if earlier else ""
        sentences.append(f"In the chart, points without a band (drawn hollow) have no interval: {listed}{window}.")
    if versions:
        listed = ", ".join(f"{group.label} ({_why_none(group.mean_fit)})" for group in versions)
        lead = "Bars" if sentences else "In the chart, bars"
        sentences.append(f"{lead} without a whisker have no interval: {listed}.")
    return [Paragraph(" ".join(sentences))] if sentences else []


def _notes(digest: Digest) -> list[Block]:
    if not digest.notes:
        return [Heading(2, "Data-quality notes"), Paragraph("No data-quality concerns were detected.")]
    return [Heading(2, "Data-quality notes"), Bullets(tuple(note.message for note in digest.notes))]


def _denominators(digest: Digest) -> list[Block]:
    now = digest.current.denominators
    before = digest.previous.denominators if digest.previous else None
    rows: list[tuple[str, int, int | None]] = [
        ("Answers", now.answers, before.answers if before else None),
        *(
            (f"· {outcome}", count, before.answers_by_outcome.get(outcome, 0) if before else None)
            for outcome, count in now.answers_by_outcome.items()
        ),
        ("Rated answers", now.rated_answers, before.rated_answers if before else None),
    ]
    table_rows = [
        (name, str(value), fmt.NO_VALUE if previous is None else str(previous), fmt.count_change(value, previous))
        for name, value, previous in rows
    ]
    table_rows.append(
        (
            "Share of answers rated",
            fmt.percent(now.share_rated),
            fmt.percent(before.share_rated) if before else fmt.NO_VALUE,
            "",
        )
    )
    rows = [
        ("Ratings", now.ratings, before.ratings if before else None),
        ("Unique raters", now.unique_raters, before.unique_raters if before else None),
        ("Comments", now.comments, before.comments if before else None),
        ("· quotable", now.quotable_comments, before.quotable_comments if before else None),
        ("Reason tags", now.reason_tags, before.reason_tags if before else None),
        ("Members who declined in the period", now.declined, before.declined if before else None),
        ("Members who withdrew or lowered consent in the period", now.withdrew, before.withdrew if before else None),
        *(
            (name, now.consent_at_end.get(level, 0) if level else taking_part(now), _consent_before(before, level))
            for name, level in _CONSENT_ROWS
        ),
    ]
    table_rows += [
        (name, str(value), fmt.NO_VALUE if previous is None else str(previous), fmt.count_change(value, previous))
        for name, value, previous in rows
    ]
    return [
        Heading(2, "Denominators"),
        Table(("", "This period", "Previous period", "Change"), tuple(table_rows), numeric=(1, 2, 3)),
        Paragraph(consent_line(now)),
    ]


# The consent rows of the Denominators table: members by their consent at each period's end ("" sums TAKING_PART).
_CONSENT_ROWS = (
    ("Members taking part at the period's end", ""),
    ("· ratings only", "ratings"),
    ("· ratings and comments", "comments"),
    ("· also quotes", "quotes"),
    ("Members at 'declined' at the period's end", "declined"),
)
_LEVEL_WORDS = {"ratings": "ratings only", "comments": "with comments", "quotes": "also quotes"}

CONSENT_READ = (
    "Consent at the period's end counts members by their latest consent decision made before it: ratings only, "
    "ratings and comments, also anonymous quotes (together, those who took part), or declined (never agreed, or "
    "withdrew). Members who never answered the consent notice are in none of them. The previous period's are as at "
    "its own end. The counts are of members' decisions still held: a member who asked to be forgotten (/privacy "
    "forget) has their decisions deleted and is counted in no period, so a count can fall between digests without "
    'anyone withdrawing. "Members who declined in the period" and "who withdrew or lowered consent in the period" '
    "count decisions made within the period instead (a member who declined and agreed later is in the first, not "
    "at 'declined' at its end). digest.json gives the counts in current.denominators.consent_at_end (and "
    "previous's), and the period's raters by their consent at its end in raters_by_consent (no_decision: members "
    "whose first decision came after the period's end, their ratings read with the feedback given since)."
)


def taking_part(counts: Denominators) -> int:
    """Members whose consent at the period's end covered ratings (ratings only, comments or quotes)."""
    return sum(counts.consent_at_end.get(level, 0) for level in TAKING_PART)


def _consent_before(before: Denominators | None, level: str) -> int | None:
    if before is None:
        return None
    return before.consent_at_end.get(level, 0) if level else taking_part(before)


def consent_line(counts: Denominators) -> str:
    """Who took part, at which consent level, as it stood at the period's end, and the level of those who rated:
    "Consent at the period's end: 40 members took part (12 ratings only, 20 with comments, 8 also quotes); 5
    declined." """
    at_end, raters = counts.consent_at_end, counts.raters_by_consent
    levels = ", ".join(f"{at_end.get(level, 0)} {_LEVEL_WORDS[level]}" for level in TAKING_PART)
    line = (
        f"Consent at the period's end: {counted(taking_part(counts), 'member')} took part ({levels}); "
        f"{at_end.get('declined', 0)} declined."
    )
    if not counts.unique_raters:
        return line
    parts = [f"{raters.get(level, 0)} {_LEVEL_WORDS[level]}" for level in TAKING_PART]
    if raters.get("declined"):
        parts.append(f"{raters['declined']} declined at its end, agreeing again after it")
    if raters.get(NO_DECISION):
        parts.append(f"{raters[NO_DECISION]} first agreeing after its end")
    return f"{line} Of those who rated in this period ({counts.unique_raters}): {', '.join(parts)}."


def _distribution(digest: Digest) -> list[Block]:
    summary, previous = digest.current, digest.previous
    blocks: list[Block] = [Heading(2, "Fit distribution")]
    if not summary.fit.distribution:
        blocks.append(Paragraph("No ratings in this period."))
        return blocks
    for scale in summary.fit.distribution:
        total = sum(scale.counts)
        before = (
            next((s for s in previous.fit.distribution if s.scale_size == scale.scale_size), None) if previous else None
        )
        rows = []
        shares = fmt.column_percents(scale.counts)
        for value in range(scale.scale_size, 0, -1):
            count = scale.counts[value - 1]
            before_count = before.counts[value - 1] if before else None
            rows.append(
                (
                    str(value),
                    fmt.scale_label(scale.scale_size, value),
                    str(count),
                    shares[value - 1],
                    fmt.NO_VALUE if before_count is None else str(before_count),
                )
            )
        blocks.append(Heading(3, f"{scale.scale_size}-point scale ({counted(total, 'rating')})"))
        blocks.append(
            Table(("Value", "Label", "Ratings", "Share", "Previous period"), tuple(rows), numeric=(0, 2, 3, 4))
        )
    blocks.append(
        Paragraph(
            f"Overall fit share {fmt.share_with_ci(summary.fit.fit_share)}; mean fit "
            f"{fmt.fit_with_ci(summary.fit.mean_fit)}, from {counted(summary.fit.mean_fit.ratings, 'rating')} "
            f"of {counted(summary.fit.mean_fit.answers, 'answer')}."
        )
    )
    if previous is not None and previous.fit.distribution:
        blocks.append(Paragraph(_previous_fit(digest, previous)))
    return blocks


def _previous_fit(digest: Digest, previous: PeriodSummary) -> str:
    """The previous period's overall fit and the changes, every number given (the Summary states fewer)."""
    mean = f"mean fit {fmt.fit_change(digest.mean_fit_change)}"
    if digest.change_scales_differ:
        change = (
            f"{mean}, {scales_hint(digest)}; fit share not compared (the tops of two scales are different thresholds)"
        )
    else:
        change = f"fit share {fmt.share_change(digest.fit_share_change)}; {mean}"
    return (
        f"Previous period: fit share {fmt.share_with_ci(previous.fit.fit_share)}; mean fit "
        f"{fmt.fit_with_ci(previous.fit.mean_fit)}, from {counted(previous.fit.mean_fit.ratings, 'rating')} of "
        f"{counted(previous.fit.mean_fit.answers, 'answer')}. Change: {change}."
    )


FIT_HEADERS = ("Answers", "Rated answers", "Ratings", "Fit share", "Mean fit")
SCALE_HEADER = "Rating scale"


def _fit_cells(group: GroupFit, scales: tuple[int, ...] | None = None) -> tuple[str, ...]:
    """A group's row under (its label,) + FIT_HEADERS: counts, fit share and mean fit with their intervals; with
    `scales`, the scales its ratings were given on after the label (under SCALE_HEADER)."""
    return (
        group.label,
        *(() if scales is None else (fmt.scale_sizes(scales),)),
        str(group.answers),
        str(group.mean_fit.answers),
        str(group.mean_fit.ratings),
        fmt.share_with_ci(group.fit_share),
        fmt.fit_with_ci(group.mean_fit),
    )


def _fit_table(first_header: str, groups: Iterable[GroupFit], scales: Iterable[tuple[int, ...]]) -> Table:
    """Groups compared side by side (scope versions, or randomized arms), each with its ratings' scales: their fit
    shares count the tops of those scales, which are different thresholds."""
    rows = tuple(_fit_cells(group, sizes) for group, sizes in zip(groups, scales, strict=True))
    return Table((first_header, SCALE_HEADER, *FIT_HEADERS), rows, numeric=(2, 3, 4))


def _current_unrated(comparison: VersionComparison) -> bool:
    """Whether the version in use at the period's end is known and has no ratings in the comparison's window."""
    return comparison.current is not None and all(group.label != comparison.current for group in comparison.versions)


def _versions(digest: Digest) -> list[Block]:
    comparison = digest.versions
    blocks: list[Block] = [Heading(2, f"Did the last scope change help? ({comparison.window})")]
    unrated = _current_unrated(comparison)
    if unrated:  # said first: the versions below are not the last change
        blocks.append(Paragraph(comparison.note))
    if comparison.versions:
        if comparison.window != THIS_PERIOD:
            # The same versions' rows under "By scope version" count this period alone, and so can differ.
            blocks.append(
                Paragraph(
                    f"Each version's ratings in {comparison.window}, pooled (a change often falls mid-week): the "
                    f'numbers can differ from the "{BY_VERSION_TITLE}" table below, which counts {THIS_PERIOD} only.'
                )
            )
        blocks.append(_fit_table("Version", comparison.versions, (group.scales for group in comparison.versions)))
    if comparison.mean_fit_change is not None:
        share = _share_change(
            comparison.fit_share_change,
            comparison.scales_differ,
            (str(comparison.prior), comparison.prior_scales),
            (str(comparison.latest), comparison.latest_scales),
        )
        blocks.append(
            Paragraph(
                f"{comparison.latest} minus {comparison.prior}, {comparison.window}: mean fit "
                f"{fmt.fit_change(comparison.mean_fit_change)}; {share}."
            )
        )
    if not unrated:
        blocks.append(Paragraph(comparison.note))
    return blocks


def _share_change(
    change: Difference | None, differ: bool, a: tuple[str, tuple[int, ...]], b: tuple[str, tuple[int, ...]]
) -> str:
    """The fit-share difference, or why it is not given: the sides' ratings were not all on one scale, and the
    tops of two scales are different thresholds."""
    if not differ:
        return f"fit share {fmt.share_change(change)}"
    sides = "; ".join(f"{name}: {fmt.scale_sizes(scales)}" for name, scales in (a, b))
    how = "each rated on a mix of scales" if set(a[1]) == set(b[1]) else "rated on different scales"
    return f"fit share not compared, the two were {how} ({sides})"


def _comparisons(digest: Digest) -> list[Block]:
    """Randomized comparisons of scope versions; nothing when none had answers in the period."""
    if not digest.comparisons:
        return []
    blocks: list[Block] = [Heading(2, "Randomized comparisons of scope versions")]
    for comparison in digest.comparisons:
        blocks.append(Heading(3, f"Comparison #{comparison.comparison_id} ({comparison.window})"))
        arms = (comparison.current, comparison.alternative)
        blocks.append(_fit_table("Arm", arms, (comparison.current_scales, comparison.alternative_scales)))
        share = _share_change(
            comparison.fit_share_change,
            comparison.scales_differ,
            ("current arm", comparison.current_scales),
            ("alternative arm", comparison.alternative_scales),
        )
        blocks.append(
            Paragraph(
                f"{comparison.alternative.label} minus {comparison.current.label}: mean fit "
                f"{fmt.fit_change(comparison.mean_fit_change)}; {share}."
            )
        )
        blocks.append(Paragraph(comparison.note))
    return blocks


def _breakdown(breakdown: Breakdown, has_previous: bool) -> list[Block]:
    blocks: list[Block] = [Heading(3, breakdown_heading(breakdown.title))]
    if not breakdown.groups:
        return [*blocks, Paragraph("No answers or ratings.")]
    # Scope versions' fit shares are compared with one another, and each counts the top of its ratings' scales.
    by_version = breakdown.dimension == "scope_version"
    headers = ("Group", *((SCALE_HEADER,) if by_version else ()), *FIT_HEADERS, "Previous mean fit")
    shown = breakdown.groups[:MAX_GROUPS]
    rows = tuple(
        (*_fit_cells(group, group.scales if by_version else None), _previous_cell(group, has_previous))
        for group in shown
    )
    blocks.append(Table(headers, rows, numeric=(2, 3, 4) if by_version else (1, 2, 3)))
    marked = [group for group in shown if _scales_marked(group, has_previous)]
    if marked:
        blocks.append(Paragraph(scales_footnote(marked)))
    hidden = len(breakdown.groups) - MAX_GROUPS
    if hidden > 0:
        blocks.append(Paragraph(f"Not shown here: {counted(hidden, 'smaller group')}; digest.json lists them all."))
    return blocks


# Marks a group's previous mean fit when the group was rated on other scales (or a mix) in one of the two periods.
SCALES_MARK = "†"


def _scales_marked(group: GroupFit, has_previous: bool) -> bool:
    return has_previous and group.previous_mean_fit is not None and group.previous_scales_differ


def _previous_cell(group: GroupFit, has_previous: bool) -> str:
    """The group's mean fit in the previous period with its ratings, marked SCALES_MARK when it compares across
    rating scales (`GroupFit.previous_scales_differ`)."""
    if not has_previous or group.previous_mean_fit is None:
        return fmt.NO_VALUE
    cell = f"{fmt.fit_value(group.previous_mean_fit)} ({counted(group.previous_ratings, 'rating')})"
    return f"{cell} {SCALES_MARK}" if _scales_marked(group, has_previous) else cell


def scales_footnote(marked: Iterable[GroupFit]) -> str:
    """Under a breakdown table: the marked groups were rated on different scales in the two periods (or on a mix),
    each with its scales, previous period first."""
    listed = "; ".join(_scales_then(group) for group in marked)
    return (
        f"{SCALES_MARK} Rated on different scales in the two periods, or on a mix of them ({listed}): compare with "
        "care. A step on one "
        "scale is not the same step on another, so the change in mean fit is a hint, not a finding."
    )


def _scales_then(group: GroupFit) -> str:
    """A marked group's scales, previous period first; for a mix of the same scales in both, how the mix moved."""
    if set(group.previous_scales) == set(group.scales):
        # The smallest scale's share is the rest: the others' say all (two scales: one share).
        before, now = _shares(group.previous_scale_ratings), _shares(group.scale_ratings)
        larger = {size: share for size, share in now.items() if size != min(now)}
        shares = _shares_then(before, larger)
        return f"{group.label}: a mix of {fmt.scale_sizes(group.scales)} in both ({shares} of its ratings)"
    return f"{group.label}: {fmt.scale_sizes(group.previous_scales)} then {fmt.scale_sizes(group.scales)}"


def breakdown_heading(title: str) -> str:
    """A breakdown's heading with its window, "By scope version (this period)": the version comparison above it,
    and the chart's bars, pool two periods. "By cue setting (topic)" becomes "By cue setting (topic; this period)"."""
    return f"{title[:-1]}; {THIS_PERIOD})" if title.endswith(")") else f"{title} ({THIS_PERIOD})"


BY_VERSION_TITLE = breakdown_heading(next(dimension.title for dimension in DIMENSIONS if dimension.by_version))


def _breakdowns(digest: Digest) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Where answers fit and where not")]
    for breakdown in digest.breakdowns:
        blocks.extend(_breakdown(breakdown, digest.previous is not None))
    return blocks


def _reasons(digest: Digest) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Reason tags")]
    if not digest.reasons:
        return [*blocks, Paragraph("No reason tags in this period.")]
    ratings = digest.current.denominators.ratings
    before = digest.previous.denominators.ratings if digest.previous is not None else 0
    rows = tuple(
        (
            tag.tag,
            _tagged(tag.count, ratings),
            fmt.NO_VALUE if tag.previous_count is None else _tagged(tag.previous_count, before),
            ", ".join(f"{label}: {count}" for label, count in tag.by_fit.items()),
        )
        for tag in digest.reasons
    )
    blocks.append(
        Table(("Tag", "This period", "Previous period", "By the tagging member's rating"), rows, numeric=(1, 2))
    )
    blocks.append(
        Paragraph(
            "Each count is of ratings given with the tag, and its share of all the period's ratings (a rating can "
            "carry several tags, so the shares need not add up to 100%)."
        )
    )
    return blocks


def _tagged(count: int, ratings: int) -> str:
    """A tag's count with its share of the period's ratings (each rating carries a tag at most once)."""
    return f"{count} ({fmt.percent(count / ratings)})" if ratings else str(count)


def _answer_blocks(note: AnswerNote, heading: str) -> list[Block]:
    details = [
        f"{counted(note.ratings, 'rating')}: "
        + ", ".join(f"{label} ×{count}" for label, count in note.rating_counts.items())
        + f"; mean fit {note.mean_fit:.2f}",
    ]
    if note.known:
        version = f"v{note.scope_version}" if note.scope_version is not None else "unscoped"
        details.append(
            f"Asked {fmt.timestamp(note.created_at)} in {channel_label(note.channel_id)}; scope {version}; language "
            f"{note.language or 'unknown'}; setting {note.setting or 'none'}; outcome {note.outcome}"
        )
    else:
        details.append("The answer is not among this period's rows (asked earlier, or purged).")
    if note.reasons:
        details.append("Reasons: " + ", ".join(f"{tag} ×{count}" for tag, count in note.reasons.items()))
    blocks: list[Block] = [Heading(3, heading), Bullets(tuple(details))]
    if note.known:
        blocks += _question_and_answer(note)
    comments = tuple(
        f"{comment_source(comment.member, comment.comment_id)}: {comment.text}" for comment in note.comments
    )
    if note.more_comments:
        comments = (*comments, f"… and {counted(note.more_comments, 'more comment')} in comments.csv")
    if note.unquotable_comments:
        comments = (*comments, unquotable_line(note.unquotable_comments, shown=bool(comments)))
    if comments:
        blocks.append(Bullets(comments))
    return blocks


def comment_source(member: str, comment_id: int) -> str:
    """Who wrote a comment shown under its answer, and its id, as a quote's footer names them ("Member A, comment
    1234"): the id finds its full text in comments.csv and comments.jsonl."""
    return f"{member}, comment {comment_id}"


def _question_and_answer(note: AnswerNote) -> list[Block]:
    """The question and the answer's excerpt as quotes; a withheld one as its placeholder, not as a quote: the
    member's words are not there (`AnswerNote.question_withheld`)."""
    if note.private:
        return [Paragraph(note.question), Paragraph(note.answer_excerpt)]
    if note.question_withheld:
        question: Block = Paragraph(note.question)
    else:
        question = BlockQuote(note.question or "(no text)", "question")
    return [question, BlockQuote(note.answer_excerpt or "(no text)", "answer, excerpt")]


def unquotable_line(count: int, *, shown: bool) -> str:
    """The count that stands in for comments whose authors did not allow quoting ("3 more comments not shown: …")."""
    what = counted(count, "more comment" if shown else "comment")
    authors, them = ("its author", "it") if count == 1 else ("their authors", "them")
    return f"{what} not shown: {authors} did not allow quoting (comments.csv in the data files holds {them})"


def _lowest(digest: Digest) -> list[Block]:
    blocks: list[Block] = [
        Heading(2, "Lowest-fit answers, for follow-up"),
        Paragraph(
            f"Up to {LOWEST_FIT_LIMIT} answers with a mean fit below 1.00, lowest first (among equals, more ratings "
            "first, then the lower answer id); answers whose every rating was at the top are left out. Comments are "
            "shown only from members who allowed quoting, each with its comment id (comments.csv holds its full "
            "text); the others are counted. Questions are shown only when "
            "asked in public by a member who allows quoting; a private answer (/ask private:True) shows neither its "
            "question nor its text. answers.csv in the data files holds them all."
        ),
    ]
    if not digest.lowest_fit:
        if digest.current.denominators.rated_answers or digest.current.fit.mean_fit.answers:
            message = "Every rated answer in this period had all its ratings at the top (mean fit 1.00): none to list."
        else:
            message = "No rated answers in this period."
        return [*blocks, Paragraph(message)]
    for note in digest.lowest_fit:
        blocks.extend(_answer_blocks(note, f"Answer {note.answer_id}: mean fit {note.mean_fit:.2f}"))
    if digest.lowest_fit_ties:
        last = digest.lowest_fit[-1].mean_fit
        more = counted(digest.lowest_fit_ties, "more answer")
        blocks.append(
            Paragraph(
                f"Not listed: {more} with the same mean fit ({last:.2f}) as the last one shown, left out only by the "
                f"limit of {LOWEST_FIT_LIMIT} and the order above. ratings.csv holds their ratings (average the fit "
                "column by answer_id to find them)."
            )
        )
    return blocks


def _disagreement(digest: Digest) -> list[Block]:
    d = digest.disagreement
    blocks: list[Block] = [Heading(2, "Disagreement")]
    share = f" ({fmt.percent(d.split_share)})" if d.split_share is not None else ""
    blocks.append(
        Paragraph(
            f"Answers rated by two or more members: {d.multi_rated_answers}; with split ratings: "
            f"{d.split_answers}{share}. {d.split_rule}"
        )
    )
    blocks.append(Paragraph(d.alpha_sentence))
    for note in d.examples:
        blocks.extend(_answer_blocks(note, f"Split answer {note.answer_id}"))
    return blocks


def _themes(digest: Digest) -> list[Block]:
    summary = digest.themes
    blocks: list[Block] = [
        Heading(2, "Themes in comments"),
        Paragraph(
            f"{counted(summary.comments, 'comment')} with text, {summary.grouped} grouped by shared words "
            f"(vocabulary of {counted(summary.vocabulary, 'word')})."
        ),
    ]
    if summary.themes:
        rows = tuple(
            (
                theme.label,
                str(theme.size),
                fmt.percent(theme.share),
                f"{theme.cohesion:.2f}",
                {True: "new", False: f"continues “{theme.matches_previous}”", None: fmt.NO_VALUE}[theme.is_new],
                ", ".join(theme.terms),
                ", ".join(str(comment_id) for comment_id in theme.example_comment_ids),
            )
            for theme in summary.themes
        )
        blocks.append(
            Table(
                ("Theme", "Comments", "Share", "Cohesion", "New this period?", "Top words", "Example comment ids"),
                rows,
                numeric=(1, 2, 3),
            )
        )
    if summary.note:
        blocks.append(Paragraph(summary.note))
    if summary.previous_themes:
        blocks.append(Paragraph("Previous period's themes: " + "; ".join(summary.previous_themes) + "."))
    blocks.append(Heading(3, "Method"))
    blocks.append(Paragraph(summary.method))
    return blocks


def _quotes(digest: Digest) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Quotes (members who allowed quoting)")]
    if not digest.quotes:
        return [*blocks, Paragraph("No quotable comments in this period.")]
    for quote in digest.quotes:
        source = f"{quote.member}, on answer {quote.answer_id}, comment {quote.comment_id}"
        if quote.rating:
            source += f" (rated {quote.rating})"
        if quote.theme:
            source += f"; theme: {quote.theme}"
        blocks.append(BlockQuote(quote.text, source))
    return blocks


def _audit(digest: Digest) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Scope changes and moderator actions")]
    for title, entries in (("Scope changes", digest.scope_changes), ("Moderator actions", digest.moderator_actions)):
        blocks.append(Heading(3, title))
        if entries:
            blocks.append(
                Table(
                    ("When", "Action", "Detail"),
                    tuple((fmt.timestamp(entry.created_at), entry.action, entry.detail) for entry in entries),
                )
            )
        else:
            blocks.append(Paragraph("None in this period."))
    return blocks


def _feedback_cut(digest: Digest) -> str:
    """The feedback cut-off when it is not the period's end: after it (an export of a past period counts the
    feedback given since) or before it (an export of a period still running, made before its end)."""
    if digest.feedback_before is None:
        return ""
    cut, end = fmt.instant(digest.feedback_before), fmt.instant(digest.end)
    if cut is None or end is None:  # not dates: say when, and claim nothing about the period's end
        return f" Ratings and comments as of {digest.feedback_before}."
    moment = digest.feedback_before[:16].replace("T", " ")
    if cut > end:
        return f" Ratings and comments as of {moment} UTC, including those given after the period ended."
    if cut < end:
        return f" Answers, ratings and comments as of {moment} UTC: the period had not ended yet."
    return ""


def provenance(digest: Digest) -> list[Block]:
    """What made the report, and the command that makes it again from the database (the same seed and resamples:
    the same numbers, but for what was deleted or changed since)."""
    # The period compared with, as it was: it follows the server's schedule, which may have changed since.
    compared = f"--compare-from {digest.previous.start} " if digest.previous is not None else ""
    command = (
        f"culturebot digest --db DATABASE --guild {digest.guild_id} --from {digest.start} --to {digest.end} "
        f"{compared}--timezone {digest.day_basis} --feedback-until {digest.feedback_before or digest.end} "
        "--out FOLDER"
    )
    return [
        Heading(2, "Provenance"),
        Paragraph(
            f"Made by culturebot {digest.culturebot_version} (digest.json format {digest.format_version}). To make "
            "it again from the bot's database (DATABASE: its file; FOLDER: where the files go), where the bot runs:"
        ),
        Code(command),
        Paragraph(
            "The numbers come out the same (the same seed and resamples), except where data was deleted since "
            "(a member forgotten, texts past retention) or a rating changed after the feedback cut-off."
        ),
    ]


def title(digest: Digest) -> str:
    return f"Research digest: {digest.guild_name}"


def _compared_with(digest: Digest) -> str:
    """The previous period's dates, which the changes compare with (a sentence and a space), or nothing."""
    if digest.previous is None:
        return ""
    period = fmt.period(digest.previous.start, digest.previous.end, digest.day_basis)
    return f"Compared with the previous period, {period}. "


def report_blocks(digest: Digest) -> list[Block]:
    """The whole report, title first; block CHART_AFTER ends the summary."""
    blocks: list[Block] = [
        Heading(1, title(digest)),
        Paragraph(
            f"Period {fmt.period(digest.start, digest.end, digest.day_basis)}; server id {digest.guild_id}. "
            + _compared_with(digest)
            + f"Bootstrap: {digest.bootstrap} resamples of answers, seed {digest.seed}."
            + _feedback_cut(digest)
        ),
    ]
    blocks += _summary(digest)
    blocks += chart_note(digest)  # right under the chart, which goes after the summary (CHART_AFTER)
    blocks += _notes(digest)
    blocks += _denominators(digest)
    blocks += _distribution(digest)
    blocks += _versions(digest)
    blocks += _comparisons(digest)
    blocks += _breakdowns(digest)
    blocks += _reasons(digest)
    blocks += _lowest(digest)
    blocks += _disagreement(digest)
    blocks += _themes(digest)
    blocks += _quotes(digest)
    blocks += _audit(digest)
    reading = (*HOW_TO_READ, CONSENT_READ, *_alpha_read(digest), _days_read(digest.day_basis))
    blocks += [Heading(2, "How to read this"), Bullets(reading)]
    blocks += provenance(digest)
    return blocks
