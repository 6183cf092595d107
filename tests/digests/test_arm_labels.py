"""A randomized comparison's arms name their versions even when no member of an arm has asked yet: the table read
"alternative version | —" after `/scope compare 1`, because the label came from the arm's answers alone."""

from __future__ import annotations

import dataclasses

from bot.digests.report import render_markdown
from bot.digests.rows import AuditRow
from bot.digests.stats import compute_digest
from bot.scopes.comparisons import start_comparison
from bot.storage import AnswerResult, Arm, Outcome
from tests.digests.test_comparisons import in_arm
from tests.digests.test_stats import rating, rows
from tests.storage.test_comparisons_storage import GUILD, MODERATOR, add_version, new_answer

STARTED = AuditRow(
    "comparison.start", "comparison 1: version 2 (current) against version 1 for 50% of members", "2026-11-16T08:00:00Z"
)


def one_arm_only(audit: list[AuditRow]):
    """Comparison 1: answers 1-2 in the current arm (v2), rated; nobody in the alternative arm asked."""
    answers = [in_arm(1, "1:current", 2), in_arm(2, "1:current", 2)]
    return rows(answers, [rating(1, "ana", 3), rating(2, "budi", 2)], audit=audit)


def arm_table(markdown: str) -> str:
    return markdown.split("### Comparison \\#1")[1].split("\n#")[0]


def test_an_arm_without_answers_takes_its_version_from_the_comparisons_start():
    digest = compute_digest(one_arm_only([STARTED]), None, bootstrap=50)
    [comparison] = digest.comparisons
    assert (comparison.current.label, comparison.alternative.label) == (
        "current version (v2)",
        "alternative version (v1)",
    )
    assert comparison.alternative.answers == 0
    table = arm_table(render_markdown(digest))
    assert "| alternative version (v1) | — | 0 | 0 | 0 |" in table
    assert "| alternative version | " not in table


def test_the_start_in_the_previous_periods_rows_counts_too():
    before = rows(audit=[STARTED], previous=True)
    digest = compute_digest(one_arm_only([]), before, bootstrap=50)
    assert digest.comparisons[0].alternative.label == "alternative version (v1)"


def test_an_arms_answers_say_its_version_first():
    """Answers under the alternative arm name v1 whatever an audit row says."""
    wrong = dataclasses.replace(
        STARTED, detail="comparison 1: version 2 (current) against version 7 for 50% of members"
    )
    current = one_arm_only([wrong])
    current = dataclasses.replace(current, answers=[*current.answers, in_arm(3, "1:alternative", 1)])
    digest = compute_digest(current, None, bootstrap=50)
    assert digest.comparisons[0].alternative.label == "alternative version (v1)"


async def test_the_versions_come_through_real_storage(storage):
    """The audit wording randomized.py reads is the one storage writes: `/scope compare 1`, one current-arm answer."""
    await add_version(storage, "first")
    second = await add_version(storage, "second")
    started = await start_comparison(storage, GUILD, MODERATOR, 1, 50)
    answer_id = await storage.start_answer(
        new_answer(scope_version_id=second.version_id, comparison_id=started.comparison_id, arm=Arm.CURRENT)
    )
    await storage.finish_answer(answer_id, AnswerResult("It depends on the setting.", Outcome.OK))
    period = await storage.digest_rows(GUILD, "2000-01-01T00:00:00.000Z", "2100-01-01T00:00:00.000Z")

    digest = compute_digest(period, None, bootstrap=50)
    [comparison] = digest.comparisons
    assert (comparison.current.label, comparison.alternative.label) == (
        "current version (v2)",
        "alternative version (v1)",
    )
