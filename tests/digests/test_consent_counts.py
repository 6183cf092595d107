"""Who took part, at which consent level: members by their consent at the period's end (the latest decision made
before it, of those still held), counted from the consent decisions the digest's read already fetches, against
hand-computed fixtures; and how the report and the embed say it."""

from __future__ import annotations

import dataclasses

import pytest

from bot.digests.document import markdown_text
from bot.digests.model import CONSENT_LEVELS, NO_DECISION
from bot.digests.report import render_html, render_markdown
from bot.digests.sections import CONSENT_READ, consent_line
from bot.digests.stats import compute_digest
from bot.digests.summary import digest_embed
from bot.storage import ConsentLevel
from bot.storage.sqlite.digests import read_digest_periods
from tests.digests.test_stats import END, PREVIOUS_START, START, answer, member, rating, rows

GUILD = 42


def at(day: int, hour: int = 12) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:00:00.000Z"


# Each member's decisions, (day in November 2026, level). The period is [16th, 23rd), the previous one [9th, 16th).
DECISIONS: dict[str, list[tuple[int, str]]] = {
    "ana": [(10, "ratings"), (17, "comments"), (19, "quotes")],  # raised twice within the period: quotes
    "budi": [(12, "quotes"), (20, "ratings")],  # lowered within the period: ratings
    "citra": [(11, "declined"), (18, "comments")],  # declined, then agreed: comments
    "dewi": [(14, "comments"), (24, "declined")],  # a decision after the end does not count: comments
    "eko": [(17, "declined")],  # declined in the period
    "fajar": [(25, "quotes")],  # first decided after the end: in no count
    "gita": [(13, "ratings"), (21, "declined")],  # withdrew in the period: declined
    "hadi": [(10, "quotes")],  # asked to be forgotten (below): in no count, in no period
}
# By hand. At the 23rd: ana quotes, budi ratings, citra comments, dewi comments, eko declined, gita declined.
AT_END = {"ratings": 1, "comments": 2, "quotes": 1, "declined": 2}
# At the 16th: ana ratings, budi quotes, citra declined, dewi comments, gita ratings (eko and fajar not yet).
AT_PREVIOUS_END = {"ratings": 2, "comments": 1, "quotes": 1, "declined": 1}


def levels_at_end() -> dict[str, str]:
    """Each member's consent level as `decided` leaves it at the period's end (AT_END counts them)."""
    by_name = {
        "ana": "quotes",
        "budi": "ratings",
        "citra": "comments",
        "dewi": "comments",
        "eko": "declined",
        "gita": "declined",
    }
    return {member(name): level for name, level in by_name.items()}


def levels_at_previous_end() -> dict[str, str]:
    """Each member's level at the previous period's end (AT_PREVIOUS_END counts them); eko had not chosen."""
    by_name = {"ana": "ratings", "budi": "quotes", "citra": "declined", "dewi": "comments", "gita": "ratings"}
    return {member(name): level for name, level in by_name.items()}


async def decided(storage) -> None:
    for name, decisions in DECISIONS.items():
        for day, level in decisions:
            await storage.set_consent(GUILD, member(name), ConsentLevel(level), "2.0", decided_at=at(day))
    await storage.forget_member(member("hadi"))


async def test_members_are_counted_by_their_latest_decision_before_each_periods_end(storage, tmp_path):
    await decided(storage)
    current = await storage.digest_rows(GUILD, START, END)
    previous = await storage.digest_rows(GUILD, PREVIOUS_START, START, feedback_before=END)
    assert current.consent_levels == levels_at_end()
    assert previous.consent_levels == levels_at_previous_end()
    # The existing counts of decisions made in the period, from the same rows: eko declined; budi and gita lowered.
    assert (current.declined, current.withdrew) == (1, 2)

    digest = compute_digest(current, previous, bootstrap=10)
    assert digest.current.denominators.consent_at_end == AT_END
    assert digest.previous is not None
    assert digest.previous.denominators.consent_at_end == AT_PREVIOUS_END
    # digest.json carries them under each period's denominators.
    plain = digest.to_dict()
    assert plain["current"]["denominators"]["consent_at_end"] == AT_END
    assert plain["previous"]["denominators"]["consent_at_end"] == AT_PREVIOUS_END

    # The workers' read (one read-only snapshot of both periods) gives the same.
    await storage.close()
    worker_current, worker_previous = read_digest_periods(tmp_path / "bot.sqlite3", GUILD, START, END, PREVIOUS_START)
    assert worker_current.consent_levels == current.consent_levels
    assert worker_previous.consent_levels == previous.consent_levels


async def test_of_two_decisions_the_later_in_time_counts_whatever_the_order_they_were_recorded_in(storage):
    # A decision re-applied from the privacy log after a restore keeps its own time, and may be recorded after a
    # later one: the later in time is the member's consent.
    await storage.set_consent(GUILD, member("ana"), ConsentLevel.QUOTES, "2.0", decided_at=at(18))
    await storage.set_consent(GUILD, member("ana"), ConsentLevel.DECLINED, "2.0", decided_at=at(17))
    # Two decisions at the same time: the one recorded later.
    await storage.set_consent(GUILD, member("budi"), ConsentLevel.RATINGS, "2.0", decided_at=at(18))
    await storage.set_consent(GUILD, member("budi"), ConsentLevel.COMMENTS, "2.0", decided_at=at(18))
    current = await storage.digest_rows(GUILD, START, END)
    assert current.consent_levels == {member("ana"): "quotes", member("budi"): "comments"}
    # Taken in that order, ana declined in the period (no earlier decision) and agreed after, and budi raised his
    # consent: one declined, none withdrew (in the order recorded, both would have lowered theirs).
    assert (current.declined, current.withdrew) == (1, 0)


def test_the_raters_are_counted_by_their_consent_at_the_periods_end():
    levels = {
        member("ana"): "quotes",
        member("budi"): "ratings",
        member("citra"): "comments",
        member("dewi"): "comments",
        member("eko"): "declined",
    }
    # ana, budi and citra rated; so did fajar, whose first decision came after the end (a rating read with the
    # feedback given since, as the previous period is read), and eko, declined at the end and agreeing again after.
    ratings = [
        rating(1, "ana", 3),
        rating(2, "ana", 2),
        rating(1, "budi", 1),
        rating(2, "citra", 3),
        rating(1, "fajar", 2),
        rating(2, "eko", 3),
    ]
    current = dataclasses.replace(rows([answer(1), answer(2)], ratings), consent_levels=levels)
    counts = compute_digest(current, None, bootstrap=10).current.denominators
    assert counts.unique_raters == 5
    assert counts.consent_at_end == {"ratings": 1, "comments": 2, "quotes": 1, "declined": 1}
    assert counts.raters_by_consent == {"ratings": 1, "comments": 1, "quotes": 1, "declined": 1, NO_DECISION: 1}
    assert consent_line(counts) == (
        "Consent at the period's end: 4 members took part (1 ratings only, 2 with comments, 1 also quotes); "
        "1 declined. Of those who rated in this period (5): 1 ratings only, 1 with comments, 1 also quotes, 1 "
        "declined at its end, agreeing again after it, 1 first agreeing after its end."
    )


def test_every_level_is_counted_even_when_no_member_chose_it():
    counts = compute_digest(rows([answer(1)]), None, bootstrap=10).current.denominators
    assert counts.consent_at_end == dict.fromkeys(CONSENT_LEVELS, 0)
    assert counts.raters_by_consent == dict.fromkeys((*CONSENT_LEVELS, NO_DECISION), 0)
    assert consent_line(counts) == (
        "Consent at the period's end: 0 members took part (0 ratings only, 0 with comments, 0 also quotes); 0 declined."
    )


@pytest.fixture
def compared():
    """This period and the previous one, with AT_END's and AT_PREVIOUS_END's members; ana and citra rated."""
    now = levels_at_end()
    before = levels_at_previous_end()
    current = dataclasses.replace(
        rows([answer(1), answer(2)], [rating(1, "ana", 3), rating(2, "citra", 2)]), consent_levels=now
    )
    previous = dataclasses.replace(
        rows([answer(11, day=10)], [rating(11, "ana", 3, day=11)], previous=True), consent_levels=before
    )
    return compute_digest(current, previous, bootstrap=10)


def test_the_report_gives_the_counts_with_the_previous_periods_and_says_how_to_read_them(compared):
    markdown = render_markdown(compared)
    denominators = markdown.split("## Denominators")[1].split("\n## ")[0]
    for line in (
        "| Members taking part at the period's end | 4 | 4 | 0 |",
        "| · ratings only | 1 | 2 | −1 |",
        "| · ratings and comments | 2 | 1 | +1 |",
        "| · also quotes | 1 | 1 | 0 |",
        "| Members at 'declined' at the period's end | 2 | 1 | +1 |",
    ):
        assert line in denominators
    assert (
        "Consent at the period's end: 4 members took part (1 ratings only, 2 with comments, 1 also quotes); "
        "2 declined. Of those who rated in this period (2): 0 ratings only, 1 with comments, 1 also quotes."
    ) in denominators
    reading = markdown.split("## How to read this")[1]
    assert markdown_text(CONSENT_READ) in reading
    assert "Members taking part at the period&#x27;s end" in render_html(compared)
    assert "asked to be forgotten (/privacy forget) has their decisions deleted and is counted in no period" in (
        CONSENT_READ
    )


def test_the_embeds_answers_line_says_how_many_took_part(compared):
    [answers] = [f.value for f in digest_embed(compared, None, "culturebot digest #1").fields if f.name == "Answers"]
    assert answers is not None and answers.endswith("; 4 members taking part at the period's end (2 declined)")
