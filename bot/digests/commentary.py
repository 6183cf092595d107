"""What members said: reason-tag counts, themes in comments (themes.py), and quotes from those who allowed it."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from operator import attrgetter

from bot.digests.followup import Aliases
from bot.digests.model import Quote, TagCount, Theme, ThemeSummary
from bot.digests.periods import RatedPeriod
from bot.digests.rows import CommentRow, DigestRows
from bot.digests.text import safe_excerpt, safe_text
from bot.digests.themes import LABEL_TERMS, METHOD, FoundTheme, ThemeFinding, find_themes, match_previous

QUOTE_EXCERPT = 500
MAX_QUOTES = 12
QUOTES_PER_THEME = 2
QUOTES_PER_MEMBER = 2

_ANSWER_ID = attrgetter("answer_id")
_RATER = attrgetter("rater_hash")
_TAG = attrgetter("tag")
_COMMENT_ID = attrgetter("comment_id")


def reason_tags(current: RatedPeriod, previous: RatedPeriod | None) -> tuple[TagCount, ...]:
    """Tag counts, most used first, each split by the tagging member's rating of the answer."""
    reasons = current.rows.reasons
    found = current.ratings_of(list(map(_ANSWER_ID, reasons)), list(map(_RATER, reasons)))
    labels = current.labels(found.tolist())
    counts: Counter[str] = Counter()
    by_fit: dict[str, Counter[str]] = defaultdict(Counter)
    for (raw_tag, label), number in Counter(zip(map(_TAG, reasons), labels, strict=True)).items():
        tag = safe_text(raw_tag)
        counts[tag] += number
        by_fit[tag][label or "unrated"] += number
    previous_counts: Counter[str] | None = None
    if previous is not None:
        previous_counts = Counter()
        for raw_tag, number in Counter(map(_TAG, previous.rows.reasons)).items():
            previous_counts[safe_text(raw_tag)] += number
    # Tags of the previous period that were not used this period are listed too (at 0): a complaint that
    # disappeared after a scope change is a finding.
    earlier: Counter[str] = previous_counts if previous_counts is not None else Counter()
    for tag in earlier:
        counts.setdefault(tag, 0)
    return tuple(
        TagCount(
            tag,
            count,
            previous_counts.get(tag, 0) if previous_counts is not None else None,
            dict(sorted(by_fit[tag].items())),
        )
        for tag, count in sorted(counts.items(), key=lambda item: (-item[1], -earlier[item[0]], item[0]))
    )


def comments_with_text(rows: DigestRows) -> list[CommentRow]:
    """Comments with text (the retention job blanks purged ones), in a stable order."""
    return sorted((c for c in rows.comments if c.text and not c.text.isspace()), key=_COMMENT_ID)


NO_LABEL = "(no word used by two or more members, one of whom allowed quoting)"


def theme_label(theme: FoundTheme) -> str:
    """The theme's heaviest words that at least two members used, one of whom allowed quoting (never one member's
    word alone, nor a word only members who did not allow quoting used)."""
    return " · ".join(theme.shared_terms[:LABEL_TERMS]) if theme.shared_terms else NO_LABEL


def languages_note(languages: Collection[str]) -> str:
    """The method's sentence when the comments are on answers in more than one language; "" otherwise."""
    if len(languages) < 2:
        return ""
    named = ", ".join(sorted(map(safe_text, languages)))
    return (
        f" This period's comments are on answers in {len(languages)} languages ({named}, the language each question "
        "was asked in): read a theme's words for its language before its topic."
    )


def themes(
    current: list[CommentRow],
    previous: list[CommentRow] | None,
    *,
    seed: int,
    languages: Collection[str] = (),
) -> tuple[ThemeSummary, ThemeFinding]:
    """This period's themes, each marked new or not against the previous period's, found the same way.
    `languages`: those of the answers the comments are on (the method says when there are several)."""
    finding = find_themes(
        [c.text for c in current],
        authors=[c.rater_hash for c in current],
        seed=seed,
        quotable=[c.quotable for c in current],
    )
    before = None
    if previous is not None:
        before = find_themes(
            [c.text for c in previous],
            authors=[c.rater_hash for c in previous],
            seed=seed,
            quotable=[c.quotable for c in previous],
        )
    comparable = before is not None and bool(before.themes)
    summary_themes = []
    for found in finding.themes:
        matched = match_previous(found, before.themes) if before is not None and comparable else None
        summary_themes.append(
            Theme(
                label=theme_label(found),
                terms=found.shared_terms,
                size=len(found.members),
                share=len(found.members) / finding.clustered,
                cohesion=found.cohesion,
                example_comment_ids=tuple(current[i].comment_id for i in found.members[:3]),
                is_new=(matched is None) if comparable else None,
                matches_previous=theme_label(before.themes[matched])
                if before is not None and matched is not None
                else None,
            )
        )
    note = finding.reason
    if note is None and not comparable:
        note = (
            "No previous themes to compare with, so no theme is marked new."
            if before is None or before.reason is None
            else f"Previous period: {before.reason} No theme is marked new."
        )
    summary = ThemeSummary(
        method=METHOD + languages_note(languages),
        comments=finding.documents,
        grouped=finding.clustered,
        vocabulary=finding.vocabulary,
        themes=tuple(summary_themes),
        previous_themes=tuple(theme_label(theme) for theme in before.themes) if before is not None else (),
        note=note,
    )
    return summary, finding


def quotes(
    comments: list[CommentRow], finding: ThemeFinding, period: RatedPeriod, aliases: Aliases
) -> tuple[Quote, ...]:
    """Quotable comments only: up to two per theme nearest its centre, then the rest, lowest-fit answers first;
    at most two per member, so that no one voice fills the section."""
    theme_of: dict[int, str] = {}
    candidates: list[int] = []
    for theme in finding.themes:
        label = theme_label(theme)
        theme_of.update((i, label) for i in theme.members)
        candidates.extend([i for i in theme.members if comments[i].quotable][:QUOTES_PER_THEME])
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
    picked = [comments[i] for i in chosen]
    ratings = period.labels(period.ratings_of([c.answer_id for c in picked], [c.rater_hash for c in picked]).tolist())
    return tuple(
        Quote(
            member=aliases(comment.rater_hash),
            text=safe_excerpt(comment.text, QUOTE_EXCERPT),
            comment_id=comment.comment_id,
            answer_id=comment.answer_id,
            theme=theme_of.get(i),
            rating=rating,
        )
        for i, comment, rating in zip(chosen, picked, ratings, strict=True)
    )
