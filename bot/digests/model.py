"""The computed digest: frozen, plain values only, JSON-serialisable through `Digest.to_dict()`.

Comments: the digest (and so the reports, the embed and digest.json) carries a comment's text only if its author
allowed quoting (`CommentNote`, `Quote`); other members' comments are only counted. Every comment, with its
`quotable` flag, is in the data files (exports.py), the research team's rows. Questions likewise: an answer note
carries a question's text only when it was asked in public and its asker allows quoting, and no text of a private
answer (`AnswerNote.question_withheld`); the data files hold every question.

Conventions: a fit value on 0..1 is (value - 1) / (scale_size - 1), so 3- and 5-point scales combine;
"fit share" is the share of ratings at the scale's top value. Estimates carry a bootstrap 95% interval, none for
one rated answer (nothing to resample); where every resample gives the same value, an exact interval at 0 or 1
and none elsewhere. `Estimate.interval` says which, and so why an interval is missing (estimates.py). Every text
field is already defused (see `text.safe_text`), and members appear only as per-digest aliases ("Member A").
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from dataclasses import dataclass, field
from typing import Any

# How an estimate's or a difference's interval was found (`Estimate.interval`, `Difference.interval`).
BOOTSTRAP = "bootstrap"  # a bootstrap percentile interval (None only where no resample drew the group)
EXACT = "exact"  # every resample alike at 0 or 1: the Clopper-Pearson 95% interval over the units (estimates.py)
NO_SPREAD = "no_spread"  # every resample alike between 0 and 1: no interval
ONE_ANSWER = "one_answer"  # one rated answer (the unit resampled): nothing to resample, no interval
ONE_MEMBER = "one_member"  # a randomized arm with one asking member (its unit): no interval
# Two to four units resampled (rated answers; asking members in a randomized arm): a percentile interval from so
# few takes a handful of values and reads far more precise than it is (two answers give 0, ½ or 1), so none.
FEW_ANSWERS = "few_answers"
FEW_ARM_MEMBERS = "few_members"
COMBINED = "combined"  # a difference with a side given an exact interval: the sides' intervals combined (MOVER)
# Why an estimate has no interval, and so neither has a difference with it as a side (`Difference.interval`).
WITHOUT_INTERVAL = (ONE_ANSWER, ONE_MEMBER, FEW_ANSWERS, FEW_ARM_MEMBERS, NO_SPREAD)

# digest.json's layout: raised whenever a field is removed or changes meaning (2: answer notes may withhold the
# question, `question_withheld`; the provenance fields).
FORMAT_VERSION = 2


def _culturebot_version() -> str:
    try:
        return importlib.metadata.version("culturebot")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


CULTUREBOT_VERSION = _culturebot_version()

# Consent levels, in the order the counts give them (`Denominators.consent_at_end`): those who took part, then those
# who declined; a rater with no decision made before the period's end counts as NO_DECISION.
TAKING_PART = ("ratings", "comments", "quotes")
CONSENT_LEVELS = (*TAKING_PART, "declined")
NO_DECISION = "no_decision"

# A bound of a difference nearer zero than this (on 0..1) is zero: notes and reports read its side alike.
NEGLIGIBLE = 1e-9


def side_of_zero(low: float, high: float) -> int:
    """Where an interval lies: 1 above zero, -1 below it, 0 when it includes zero (within NEGLIGIBLE)."""
    if low > NEGLIGIBLE:
        return 1
    if high < -NEGLIGIBLE:
        return -1
    return 0


@dataclass(frozen=True, slots=True)
class Estimate:
    """A ratio over ratings with its 95% interval: a cluster bootstrap's (resampling answers; members in randomized
    comparisons), or, where every resample gives the same 0 or 1, an exact one (`interval` says which)."""

    value: float | None  # None without ratings
    low: float | None  # None without an interval: `interval` says why (ONE_ANSWER, NO_SPREAD, ONE_MEMBER)
    high: float | None
    answers: int  # rated answers (the resampled clusters)
    ratings: int
    interval: str = BOOTSTRAP  # BOOTSTRAP, EXACT, NO_SPREAD, ONE_ANSWER or ONE_MEMBER


@dataclass(frozen=True, slots=True)
class Difference:
    """b - a, with a 95% interval: the bootstrap's (replicates of both sides paired as they were drawn) or, when a
    side has an exact interval, the sides' intervals combined (`interval`: BOOTSTRAP or COMBINED). None when a
    side has no interval; `interval` is then that side's reason (one of WITHOUT_INTERVAL)."""

    a: str
    b: str
    value: float | None
    low: float | None
    high: float | None
    interval: str = BOOTSTRAP


@dataclass(frozen=True, slots=True)
class Denominators:
    answers: int
    answers_by_outcome: dict[str, int]  # ok, incomplete, failed, refused (+ any other outcome seen)
    rated_answers: int  # of this period's answers, those with at least one rating
    share_rated: float | None  # of the answers shown with rating controls (ok or incomplete), those rated
    ratable_answers: int  # answers shown with rating controls: failed and refused answers have none
    rated_unratable: int  # rated answers among those without controls (a rating reaction added all the same)
    ratings: int
    unique_raters: int
    comments: int
    quotable_comments: int
    reason_tags: int
    declined: int  # members whose first decision, made in the period, was to decline
    withdrew: int  # members who lowered or withdrew consent in the period
    # Members by their consent as it stood at the period's end (their latest decision made before it; only decisions
    # still held, so not members who asked to be forgotten): CONSENT_LEVELS, each always present. Those at ratings,
    # comments or quotes took part.
    consent_at_end: dict[str, int] = field(default_factory=dict)
    # The period's raters (`unique_raters`) by their consent at the period's end: CONSENT_LEVELS and NO_DECISION (no
    # decision before the end: they agreed after it, their ratings read with a later cut-off, `feedback_before`).
    raters_by_consent: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScaleCounts:
    scale_size: int
    counts: tuple[int, ...]  # counts[i] = ratings with value i + 1


@dataclass(frozen=True, slots=True)
class FitSummary:
    distribution: tuple[ScaleCounts, ...]  # one entry per scale size in use, ascending
    mean_fit: Estimate  # mean of (value - 1) / (scale_size - 1)
    fit_share: Estimate  # share of ratings at the top value
    all_equal: bool  # every rating had the same normalised value


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    start: str
    end: str
    denominators: Denominators
    fit: FitSummary


@dataclass(frozen=True, slots=True)
class GroupFit:
    key: str
    label: str
    answers: int  # answers in the group (this period)
    mean_fit: Estimate
    fit_share: Estimate
    previous_mean_fit: float | None  # the same group in the previous period (point estimate)
    previous_ratings: int
    # The scale sizes the group's ratings were given on, ascending ((3, 5): some on each); () without ratings. In
    # the version comparison pooled over its window, as the fits are. Randomized arms leave it () and carry theirs
    # in ArmComparison.current_scales and alternative_scales.
    scales: tuple[int, ...] = ()
    # The scale sizes of the group's ratings in the previous period, ascending (breakdowns only; () without them).
    previous_scales: tuple[int, ...] = ()
    # The group was not rated on one and the same scale in both periods (its scales differ, or a period mixes
    # them: groups.scales_differ): its mean fit against `previous_mean_fit` is a hint, not a finding, as for the
    # period's change (`Digest.change_scales_differ`).
    previous_scales_differ: bool = False
    # Breakdowns only: the group's ratings on each scale size, (size, ratings) ascending, this period and the previous
    # one; what a group rated on a mix of scales in both periods had on each (the † footnote's shares).
    scale_ratings: tuple[tuple[int, int], ...] = ()
    previous_scale_ratings: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Breakdown:
    dimension: str  # scope_version, language, channel, setting
    title: str
    groups: tuple[GroupFit, ...]


@dataclass(frozen=True, slots=True)
class VersionComparison:
    """Did the last scope change help? The latest two rated scope versions, pooled over `window`; when the
    version in use at the period's end (`current`) has no ratings there, they are the two before it."""

    window: str  # "this period" or "this and the previous period"
    versions: tuple[GroupFit, ...]  # every rated version in the window, ascending
    latest: str | None  # the latest rated version: `current` unless that has no ratings yet
    prior: str | None
    mean_fit_change: Difference | None  # latest - prior
    fit_share_change: Difference | None  # None too when `scales_differ`: the tops of two scales do not compare
    note: str  # a sentence saying what can and cannot be concluded
    current: str | None = None  # the version in use at the period's end ("v5"); None: none, or not known
    prior_scales: tuple[int, ...] = ()  # the scale sizes of `prior`'s ratings in the window, ascending
    latest_scales: tuple[int, ...] = ()
    # The two compared were not both rated on one and the same scale (they differ, or one mixes scales): the
    # difference is a hint, not a finding, and the fit share's is not given.
    scales_differ: bool = False


@dataclass(frozen=True, slots=True)
class ArmComparison:
    """A randomized comparison of two scope versions (members assigned at random), within this period."""

    comparison_id: int
    current: GroupFit  # the arm answered under the server's current version when the comparison started
    alternative: GroupFit
    mean_fit_change: Difference  # alternative - current
    fit_share_change: Difference | None  # None when `scales_differ`: the tops of two scales do not compare
    note: str  # a sentence saying what can and cannot be concluded
    current_scales: tuple[int, ...] = ()  # the scale sizes of the current arm's ratings, ascending
    alternative_scales: tuple[int, ...] = ()
    scales_differ: bool = False  # as in VersionComparison: the arms were not both rated on one and the same scale
    window: str = "this period"  # the periods whose rated answers are pooled: or "this and the previous period"


@dataclass(frozen=True, slots=True)
class TimePoint:
    """Fit of the answers asked on one day, or in one week starting that Monday: UTC days (`Digest.day_basis`)."""

    day: str  # YYYY-MM-DD
    mean_fit: Estimate
    fit_share: Estimate


@dataclass(frozen=True, slots=True)
class TagCount:
    tag: str
    count: int
    previous_count: int | None
    by_fit: dict[str, int]  # "1/3", "5/5", ... (the tagging member's rating), "unrated"


@dataclass(frozen=True, slots=True)
class CommentNote:
    """A comment shown next to an answer: only ever one its author allowed to be quoted (the reports are posted to
    the digest channel); the others are counted (`AnswerNote.unquotable_comments`), never shown."""

    comment_id: int
    member: str  # per-digest alias
    text: str  # defused, at most COMMENT_EXCERPT characters
    created_at: str


@dataclass(frozen=True, slots=True)
class AnswerNote:
    answer_id: int
    known: bool  # False when the rated answer is not among this period's answer rows
    channel_id: int | None
    created_at: str | None
    outcome: str | None
    scope_version: int | None
    language: str | None
    setting: str | None
    question: str  # defused excerpt
    answer_excerpt: str  # defused, <= 300 characters, cut on a word
    ratings: int
    mean_fit: float
    rating_counts: dict[str, int]  # "value/scale" -> count
    reasons: dict[str, int]
    comments: tuple[CommentNote, ...]  # quotable comments only, oldest first, at most COMMENTS_PER_ANSWER
    more_comments: int  # quotable comments not listed here (beyond the limit)
    # Comments whose authors did not allow quoting: counted, their text not shown (the data files hold them).
    unquotable_comments: int = 0
    # Asked with /ask private:True: `question` and `answer_excerpt` are placeholders, not the texts.
    private: bool = False
    # Why `question` is a placeholder instead of the member's words: "private", or "not_quotable" (the asker did not
    # allow quoting); None when it is shown (followup.question_texts).
    question_withheld: str | None = None


@dataclass(frozen=True, slots=True)
class ScaleAlpha:
    """Krippendorff's alpha over the ratings on one rating scale: its answers rated by two or more members on it."""

    scale_size: int
    alpha: float | None  # None: too few answers (rater_agreement.ALPHA_MIN_UNITS), or every value alike (undefined)
    units: int  # answers with two or more ratings on this scale
    values: int  # their ratings on this scale
    raters: int  # the members who gave them
    # The cluster-bootstrap 95% interval of alpha (rater_agreement.py); None without alpha, or with `interval` saying
    # why: "unstable" (too many resamples had no variation to compute alpha from) or "no_spread" (every resample
    # gave the same alpha).
    low: float | None = None
    high: float | None = None
    interval: str | None = None


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Split answers, and agreement across raters. Alpha is computed within one rating scale, never across two: a
    3-point and a 5-point rating are different measurements. `alpha`, `alpha_units`, `alpha_values` and
    `alpha_raters` are those of `alpha_scale`'s ratings: the only scale, or, when answers rated by two or more
    members were rated on both, the one with the most pairable ratings (of those with enough answers);
    `alpha_by_scale` gives each scale's."""

    multi_rated_answers: int  # answers with >= 2 ratings
    split_answers: int
    split_share: float | None  # split / multi-rated
    split_rule: str
    examples: tuple[AnswerNote, ...]
    alpha: float | None
    alpha_units: int
    alpha_values: int
    alpha_raters: int
    alpha_sentence: str
    alpha_scale: int | None = None  # None: alpha not computed (too few answers rated by two or more members)
    alpha_low: float | None = None  # alpha's 95% interval (`ScaleAlpha.low`, `high`, of alpha_scale)
    alpha_high: float | None = None
    alpha_interval: str | None = None  # why alpha_scale's alpha has no interval (`ScaleAlpha.interval`)
    alpha_by_scale: tuple[ScaleAlpha, ...] = ()  # ascending by scale size; () when alpha was not computed
    # Ratings of answers rated by two or more members that had no other rating on their own scale (an answer rated
    # once on each scale): in no scale's alpha.
    alpha_left_out: int = 0


@dataclass(frozen=True, slots=True)
class Theme:
    label: str  # the first themes.LABEL_TERMS of `terms`
    # Its heaviest words (themes.TOP_TERMS) among those that comments of at least two members hold, one of them a
    # member who allowed quoting: a word only one member wrote, or only members who did not allow quoting, is never
    # shown. Whether it is new compares all its top words (themes.FoundTheme.terms).
    terms: tuple[str, ...]
    size: int
    share: float  # of grouped comments
    cohesion: float
    example_comment_ids: tuple[int, ...]
    is_new: bool | None  # None when there is nothing to compare with
    matches_previous: str | None  # label of the previous period's theme it continues


@dataclass(frozen=True, slots=True)
class ThemeSummary:
    method: str
    comments: int
    grouped: int
    vocabulary: int
    themes: tuple[Theme, ...]
    previous_themes: tuple[str, ...]  # labels, for comparison
    note: str | None


@dataclass(frozen=True, slots=True)
class Quote:
    member: str  # per-digest alias
    text: str  # defused, at most QUOTE_EXCERPT characters
    comment_id: int
    answer_id: int
    theme: str | None
    rating: str | None  # the member's rating of that answer, "value/scale"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    created_at: str
    action: str
    detail: str  # defused


@dataclass(frozen=True, slots=True)
class QualityNote:
    # small_n, small_previous, askers_rating, few_raters, dominant_rater, many_unrated, failed_answers, no_previous…
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Digest:
    guild_id: int
    guild_name: str  # defused
    start: str
    end: str
    seed: int
    bootstrap: int
    current: PeriodSummary
    previous: PeriodSummary | None
    mean_fit_change: Difference | None  # this period - previous
    fit_share_change: Difference | None
    breakdowns: tuple[Breakdown, ...]
    versions: VersionComparison
    timeline: tuple[TimePoint, ...]  # per day (UTC: `day_basis`) over the previous and this period (the chart's line)
    reasons: tuple[TagCount, ...]
    lowest_fit: tuple[AnswerNote, ...]  # mean fit below 1 only, lowest first, at most followup.LOWEST_FIT_LIMIT
    disagreement: Disagreement
    themes: ThemeSummary
    quotes: tuple[Quote, ...]
    scope_changes: tuple[AuditEntry, ...]
    moderator_actions: tuple[AuditEntry, ...]
    notes: tuple[QualityNote, ...]
    comparisons: tuple[ArmComparison, ...] = ()  # randomized comparisons with answers this period
    # Feedback given up to this time counts (an export made after the period); None: up to the period's end.
    feedback_before: str | None = None
    # Per week (from Monday) over the previous and this period when they span more than 35 days (the chart's
    # line then, groups.spans_weeks); () otherwise.
    weekly_timeline: tuple[TimePoint, ...] = ()
    # Rated answers not in `lowest_fit` with the same mean fit as its last one (cut off by the limit).
    lowest_fit_ties: int = 0
    # The calendar the timelines' days (and weeks from Monday) are counted in: each answer on the day it was asked in
    # UTC, whatever time zone the digest's schedule (and so its period) follows. compute_digest is not given the
    # server's time zone.
    day_basis: str = "UTC"
    # The previous period and this one were not both rated on one and the same scale (as
    # VersionComparison.scales_differ): the change in mean fit is a hint, not a finding, and `fit_share_change` is
    # None (the tops of two scales are different thresholds).
    change_scales_differ: bool = False
    # Provenance of digest.json: the culturebot that made it, and the layout of its fields (FORMAT_VERSION).
    culturebot_version: str = CULTUREBOT_VERSION
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts, lists, strings and numbers, ready for `json.dumps`: what `dataclasses.asdict` gives, with
        tuples as lists and keys as strings, several times faster (asdict deep-copies every value)."""
        plain: dict[str, Any] = _plain(self)
        return plain

    def breakdown(self, dimension: str) -> Breakdown | None:
        return next((item for item in self.breakdowns if item.dimension == dimension), None)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    names = _field_names(kind)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(kind: type) -> tuple[str, ...] | None:
    """A dataclass's field names in order, None for any other type."""
    if kind not in _FIELD_NAMES:
        is_dataclass = dataclasses.is_dataclass(kind)
        _FIELD_NAMES[kind] = tuple(field.name for field in dataclasses.fields(kind)) if is_dataclass else None
    return _FIELD_NAMES[kind]
