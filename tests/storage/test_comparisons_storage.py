"""Randomized comparisons in storage, and the member assignment: one running per server, ended by scope
changes in the same transaction, served from memory while running."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.errors import UserFacingError
from bot.scopes.comparisons import assign_arm, start_comparison, stop_comparison
from bot.storage import Arm, NewAnswer, NewScopeVersion, ScopeSource
from tests.storage.test_guild_cache import trace_statements

GUILD = 7
MODERATOR = 1


FIXTURE = (Path(__file__).parent.parent / "fixtures" / "kopi_scope.md").read_text()


def new_answer(**extra) -> NewAnswer:
    return NewAnswer(GUILD, 3, None, "a" * 32, "q", "m", **extra)


async def add_version(storage, content: str, *, raw: bool = False):
    """A new current version: the test scope with a section saying `content` (or `content` as it is)."""
    text = content if raw else f"{FIXTURE.rstrip()}\n\n## Version note\n{content}\n"
    change = await storage.add_scope_version(
        NewScopeVersion(GUILD, "test-scope", "Test scope", text, ScopeSource.UPLOAD, "test", MODERATOR)
    )
    return change.version


def test_assignment_is_stable_per_member_and_comparison_and_follows_the_share():
    members = [f"{n:032x}" for n in range(4000)]
    arms = [assign_arm(5, member, 0.3) for member in members]
    assert arms == [assign_arm(5, member, 0.3) for member in members]  # the same member, the same arm
    share = arms.count(Arm.ALTERNATIVE) / len(arms)
    assert 0.27 < share < 0.33
    # Another comparison draws anew: about half of the members change arm at a share of 0.5.
    changed = sum(assign_arm(5, m, 0.5) != assign_arm(6, m, 0.5) for m in members) / len(members)
    assert 0.45 < changed < 0.55


async def test_start_read_from_memory_and_stop(storage):
    first = await add_version(storage, "first")
    second = await add_version(storage, "second")
    started = await start_comparison(storage, GUILD, MODERATOR, 1, 40)
    assert (started.current.number, started.alternative.number, started.alternative_share) == (2, 1, 0.4)
    assert started.current == second and started.alternative == first

    await storage.running_comparison(GUILD)
    statements = await trace_statements(storage)
    for _ in range(3):
        assert await storage.running_comparison(GUILD) == started
    assert statements == [], "the running comparison is read for every question: from memory"

    with pytest.raises(UserFacingError, match="Stop it with `/scope compare-stop`"):
        await start_comparison(storage, GUILD, MODERATOR, 1, 50)
    ended = await stop_comparison(storage, GUILD, MODERATOR)
    assert ended.end_reason == "stopped by a moderator" and ended.ended_at is not None
    assert await storage.running_comparison(GUILD) is None
    with pytest.raises(UserFacingError, match="No comparison is running"):
        await stop_comparison(storage, GUILD, MODERATOR)
    assert [c.comparison_id for c in await storage.comparisons(GUILD)] == [started.comparison_id]


@pytest.mark.parametrize("change", ["new version", "clear"])
async def test_a_scope_change_ends_the_running_comparison(storage, change):
    await add_version(storage, "first")
    await add_version(storage, "second")
    started = await start_comparison(storage, GUILD, MODERATOR, 1, 50)
    assert await storage.running_comparison(GUILD) is not None
    if change == "new version":
        changed = await storage.add_scope_version(
            NewScopeVersion(GUILD, "test-scope", "Test scope", FIXTURE, ScopeSource.UPLOAD, "test", MODERATOR)
        )
        assert changed.version.number == 3
        told = changed.ended
    else:
        cleared = await storage.clear_scope(GUILD, MODERATOR)
        assert cleared is not None
        told = cleared.ended
        assert await storage.clear_scope(GUILD, MODERATOR) is None, "nothing left to clear"
    assert await storage.running_comparison(GUILD) is None
    [ended] = await storage.comparisons(GUILD)
    assert (ended.comparison_id, ended.end_reason) == (started.comparison_id, "the server's scope changed")
    assert told == ended, "the change reports the comparison it ended, read in its own transaction"
    actions = [entry.action for entry in await storage.audit_entries(GUILD)]
    assert actions[0] == "comparison.end" and "comparison.start" in actions
    # With nothing running, a change ends nothing.
    again = await storage.add_scope_version(
        NewScopeVersion(GUILD, "test-scope", "Test scope", FIXTURE + "\n", ScopeSource.EDIT, "test", MODERATOR)
    )
    assert again.ended is None


async def test_storage_refuses_a_second_or_stale_start(storage):
    first = await add_version(storage, "first")
    second = await add_version(storage, "second")
    assert await storage.start_comparison(GUILD, MODERATOR, first.version_id, second.version_id, 0.5) is None, (
        "the version said to be current is no longer current"
    )
    assert await storage.start_comparison(GUILD, MODERATOR, second.version_id, first.version_id, 0.5) is not None
    assert await storage.start_comparison(GUILD, MODERATOR, second.version_id, first.version_id, 0.5) is None
    # The schema itself allows one running comparison per server only.
    with sqlite3.connect(storage.path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO comparisons (guild_id, current_version_id, alternative_version_id, alternative_share, "
            "started_by) VALUES (?, ?, ?, 0.5, 1)",
            (GUILD, second.version_id, first.version_id),
        )


async def test_bad_requests_get_specific_messages(storage):
    with pytest.raises(UserFacingError, match="There is no declared scope to compare with"):
        await start_comparison(storage, GUILD, MODERATOR, 1, 50)
    await add_version(storage, "first")
    await add_version(storage, "first")  # same content, new number
    with pytest.raises(UserFacingError, match=r"Version 1 has the same content as the current version \(2\)"):
        await start_comparison(storage, GUILD, MODERATOR, 1, 50)
    with pytest.raises(UserFacingError, match="There is no version 5"):
        await start_comparison(storage, GUILD, MODERATOR, 5, 50)
    with pytest.raises(UserFacingError, match=r"between 10% and 90% \(got 95%\)"):
        await start_comparison(storage, GUILD, MODERATOR, 1, 95)
    await add_version(storage, "no front matter: rules tightened since this version was stored", raw=True)
    await add_version(storage, "fourth")
    with pytest.raises(UserFacingError, match="Version 3 no longer passes validation, so it cannot be compared"):
        await start_comparison(storage, GUILD, MODERATOR, 3, 50)
    assert await storage.comparisons(GUILD) == []


async def test_answers_record_their_comparison_and_arm(storage):
    await add_version(storage, "first")
    second = await add_version(storage, "second")
    started = await start_comparison(storage, GUILD, MODERATOR, 1, 50)
    answer_id = await storage.start_answer(
        new_answer(scope_version_id=second.version_id, comparison_id=started.comparison_id, arm=Arm.CURRENT)
    )
    with sqlite3.connect(storage.path) as conn:
        row = conn.execute("SELECT comparison_id, arm FROM answers WHERE answer_id = ?", (answer_id,)).fetchone()
    assert row == (started.comparison_id, "current")


async def test_an_arm_without_its_comparison_is_refused_by_the_schema(storage):
    await add_version(storage, "first")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        await storage.start_answer(new_answer(arm=Arm.ALTERNATIVE))


async def test_ending_a_given_comparison_leaves_another_running(storage):
    await add_version(storage, "first")
    await add_version(storage, "second")
    started = (await start_comparison(storage, GUILD, MODERATOR, 1, 50)).comparison_id
    reason = "version 1 no longer passes validation"
    assert await storage.end_comparison(GUILD, 0, reason, only=started + 1) is None  # one ended already
    running = await storage.running_comparison(GUILD)
    assert running is not None and running.comparison_id == started
    ended = await storage.end_comparison(GUILD, 0, reason, only=started)
    assert ended is not None and ended.end_reason == "version 1 no longer passes validation"
