"""Randomized comparisons of scope versions through the stand-in: /scope compare, assignment, records, ending."""

from __future__ import annotations

import json
import sqlite3

import pytest

from bot.pseudonyms import Pseudonymizer
from bot.scopes.comparisons import assign_arm
from bot.storage import Arm, open_storage
from tests.e2e.conftest import SCOPE_FIXTURE
from tests.e2e.test_scope_commands import MANAGE_GUILD, reply_text, run
from tests.helpers import eventually

KOPI_TITLE = "Coffee-shop talk among Jakarta office workers"  # version 1, the fixture
TEMPLATE_TITLE = "Indonesian business culture (Jakarta offices)"  # version 2, from the template
MEMBERS = 12


def rows(world, sql, params=()):
    with sqlite3.connect(world.tmp_path / "bot.sqlite3") as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
def moderator(world):
    role = world.standin.add_role(world.guild_id, "Moderators", permissions=MANAGE_GUILD)
    return int(world.standin.add_member(world.guild_id, "mod-sari", roles=[role["id"]])["user"]["id"])


async def ask(world, member_id: int, text: str) -> tuple[str, str | None, int | None]:
    """Ask and wait for the answer: the system prompt the model got, and the record's arm and comparison."""
    before = len(rows(world, "SELECT answer_id FROM answers WHERE outcome != 'streaming'"))
    await world.standin.send_message(world.channel_id, member_id, world.mention(text))
    await eventually(
        lambda: len(rows(world, "SELECT answer_id FROM answers WHERE outcome != 'streaming'")) > before,
        what="the answer",
    )
    [(arm, comparison)] = rows(world, "SELECT arm, comparison_id FROM answers ORDER BY answer_id DESC LIMIT 1")
    return world.model.last_request.system_prompt, arm, comparison


async def test_members_are_answered_under_their_randomly_assigned_version(world, run_bot, moderator):
    members = [int(world.standin.add_member(world.guild_id, f"member-{i}")["user"]["id"]) for i in range(MEMBERS)]
    pseudonyms = Pseudonymizer(b"k" * 32)  # the key the test settings use
    async with run_bot(cooldown=0):
        used = await run(world, moderator, "scope use", {"template": "indonesian-business-jakarta"})
        assert "(version 2)" in await reply_text(world, used)

        started = await run(world, moderator, "scope compare", {"version": 1, "share": 50})
        assert started.ephemeral
        text = await reply_text(world, started)
        assert text.startswith("Comparison #1: version 2 (current) for 50% of members against version 1 for 50%")
        assert "Any scope change ends the comparison" in text

        seen = {Arm.CURRENT: 0, Arm.ALTERNATIVE: 0}
        for member in members:
            system, arm, comparison = await ask(world, member, "How do I greet my manager in the morning?")
            expected = assign_arm(1, pseudonyms.member(member), 0.5)
            assert (arm, comparison) == (expected.value, 1)
            # The prompt carries the arm's version, and only it.
            title, other = (TEMPLATE_TITLE, KOPI_TITLE) if expected is Arm.CURRENT else (KOPI_TITLE, TEMPLATE_TITLE)
            assert title in system and other not in system
            seen[expected] += 1
        assert all(seen.values()), f"{MEMBERS} members should land in both arms: {seen}"

        # A member keeps their version: the same arm again.
        again = await ask(world, members[0], "And in the afternoon?")
        assert again[1] == assign_arm(1, pseudonyms.member(members[0]), 0.5).value
        # Each answer records the version it was actually answered under.
        assert rows(
            world,
            "SELECT DISTINCT a.arm, v.number FROM answers a JOIN scope_versions v "
            "ON v.version_id = a.scope_version_id WHERE a.arm IS NOT NULL ORDER BY a.arm",
        ) == [("alternative", 1), ("current", 2)]

        # The member's export says they were in the comparison, but not their arm while it runs.
        exported = await run(world, members[0], "privacy export")
        [attachment] = (await world.standin.wait_for_followup(exported.id)).attachments
        questions = json.loads(attachment.data)["questions"]
        assert {(q["comparison_id"], q["arm"]) for q in questions} == {(1, "withheld while the comparison runs")}

        status = await run(world, moderator, "scope compare-status")
        assert (await reply_text(world, status)).startswith("Running: Comparison #1: version 2 (current)")

        # Choosing the template in use again changes nothing, so it does not end the comparison either.
        again_used = await run(world, moderator, "scope use", {"template": "indonesian-business-jakarta"})
        assert "is already the template 'indonesian-business-jakarta'; nothing was changed" in (
            await reply_text(world, again_used)
        )
        assert rows(world, "SELECT count(*), max(number) FROM scope_versions") == [(2, 2)]
        assert rows(world, "SELECT ended_at FROM comparisons") == [(None,)]

        # A scope change ends the comparison, says so, and everyone is answered under the new version.
        upload = await run(world, moderator, "scope upload", {"file": ("kopi.md", SCOPE_FIXTURE.read_bytes())})
        changed = await reply_text(world, upload)
        assert changed.startswith("Saved as version 3")
        assert "This ended comparison #1 (its arms were versions 2 and 1)" in changed
        assert rows(world, "SELECT end_reason FROM comparisons") == [("the server's scope changed",)]
        status = await reply_text(world, await run(world, moderator, "scope compare-status"))
        assert "Comparison #1: version 2 (then current) for 50%" in status, "version 3 is current now"
        system, arm, comparison = await ask(world, members[0], "And on Fridays?")
        assert (arm, comparison) == (None, None)
        assert KOPI_TITLE in system
        # Once the comparison has ended, the export has the arm.
        exported = await run(world, members[0], "privacy export")
        [attachment] = (await world.standin.wait_for_followup(exported.id)).attachments
        questions = json.loads(attachment.data)["questions"]
        assert {(q["comparison_id"], q["arm"]) for q in questions} == {(1, again[1]), (None, None)}

    settings = world.settings()
    storage = await open_storage(settings)
    try:
        actions = [entry.action for entry in await storage.audit_entries(world.guild_id)]
        digest_rows = await storage.digest_rows(world.guild_id, "2000-01-01T00:00:00.000Z", "2100-01-01T00:00:00.000Z")
    finally:
        await storage.close()
    assert actions.index("comparison.end") < actions.index("comparison.start")  # newest first
    arms = {row.arm for row in digest_rows.answers}
    assert arms == {"1:current", "1:alternative", None}


async def test_compare_refuses_what_cannot_be_compared(world, run_bot, moderator):
    async with run_bot():

        async def say(name, options=None):
            return await reply_text(world, await run(world, moderator, name, options))

        assert await say("scope compare", {"version": 9}) == (
            "There is no version 9; `/scope history` lists the versions."
        )
        assert await say("scope compare", {"version": 1}) == (
            "Version 1 has the same content as the current version (1): choose a version that differs."
        )
        assert await say("scope compare-stop") == "No comparison is running; `/scope compare` starts one."
        assert await say("scope compare-status") == (
            "No comparison has run in this server; `/scope compare` starts one."
        )
        await say("scope use", {"template": "indonesian-business-jakarta"})
        assert (await say("scope compare", {"version": 1, "share": 20})).startswith(
            "Comparison #1: version 2 (current) for 80% of members against version 1 for 20%"
        )
        refused = await say("scope compare", {"version": 1})
        assert refused.startswith("Comparison #1:") and "Stop it with `/scope compare-stop`" in refused
        stopped = await say("scope compare-stop")
        assert "ended" in stopped and "(stopped by a moderator)" in stopped
        assert "Every member is answered under the current version again." in stopped
        status = await say("scope compare-status")
        assert status.startswith("No comparison is running.\nComparison #1:")
    assert rows(world, "SELECT count(*) FROM comparisons WHERE ended_at IS NULL") == [(0,)]


async def test_a_comparison_whose_other_version_no_longer_parses_is_ended(world, run_bot, moderator):
    # Versions stored before a validation rule was added may no longer parse: its arm's members would silently
    # get the current version and drop out of one arm only. The comparison ends for everyone, visibly.
    members = [int(world.standin.add_member(world.guild_id, f"member-{i}")["user"]["id"]) for i in range(MEMBERS)]
    pseudonyms = Pseudonymizer(b"k" * 32)
    alternative = next(m for m in members if assign_arm(1, pseudonyms.member(m), 0.5) is Arm.ALTERNATIVE)
    async with run_bot(cooldown=0):
        await run(world, moderator, "scope use", {"template": "indonesian-business-jakarta"})
        await run(world, moderator, "scope compare", {"version": 1, "share": 50})
    with sqlite3.connect(world.tmp_path / "bot.sqlite3") as conn:
        conn.execute("UPDATE scope_versions SET content = 'no longer a scope' WHERE number = 1")
    async with run_bot(cooldown=0):
        system, arm, comparison = await ask(world, alternative, "How do I greet my manager in the morning?")
        assert (arm, comparison) == (None, None)
        assert TEMPLATE_TITLE in system, "answered under the current version"
        status = await reply_text(world, await run(world, moderator, "scope compare-status"))
        assert status.startswith("No comparison is running.\nComparison #1:")
        assert "(version 1 no longer passes validation)" in status
    assert rows(world, "SELECT action FROM audit_log ORDER BY entry_id DESC LIMIT 1") == [("comparison.end",)]


async def test_a_reply_to_an_answer_under_the_other_version_is_left_out_of_the_comparison(world, run_bot, moderator):
    members = [int(world.standin.add_member(world.guild_id, f"member-{i}")["user"]["id"]) for i in range(MEMBERS)]
    pseudonyms = Pseudonymizer(b"k" * 32)
    arms = {member: assign_arm(1, pseudonyms.member(member), 0.5) for member in members}
    alternative = next(m for m in members if arms[m] is Arm.ALTERNATIVE)
    current = next(m for m in members if arms[m] is Arm.CURRENT)

    def answered():
        return [m for m in world.standin.bot_messages(world.channel_id) if m.components]

    async with run_bot(cooldown=0):
        await run(world, moderator, "scope use", {"template": "indonesian-business-jakarta"})
        await ask(world, current, "Before any comparison?")
        [before] = answered()
        await run(world, moderator, "scope compare", {"version": 1, "share": 50})
        await ask(world, alternative, "How do I greet my manager?")
        first = answered()[1]
        # A member of the other arm replies to that answer: their prompt would hold both versions.
        await world.standin.send_message(world.channel_id, current, world.mention("And a client?"), reply_to=first.id)
        await eventually(lambda: len(rows(world, "SELECT 1 FROM answers WHERE outcome = 'ok'")) == 3, what="answer")
        assert TEMPLATE_TITLE in world.model.last_request.system_prompt, "answered under their own version"
        # Within one arm a conversation stays in the comparison.
        await world.standin.send_message(
            world.channel_id, alternative, world.mention("And my aunt?"), reply_to=first.id
        )
        await eventually(lambda: len(rows(world, "SELECT 1 FROM answers WHERE outcome = 'ok'")) == 4, what="answer")
        # A reply to the answer left out (written under the current version) mixes versions too, though no answer
        # of its chain is in the other arm.
        second = answered()[2]
        await world.standin.send_message(world.channel_id, alternative, world.mention("Really?"), reply_to=second.id)
        await eventually(lambda: len(rows(world, "SELECT 1 FROM answers WHERE outcome = 'ok'")) == 5, what="answer")
        # A conversation from before the comparison is left out for either arm, though the current arm's member
        # gets the same version: only the alternative arm's would otherwise lose such conversations (a bias).
        await world.standin.send_message(world.channel_id, current, world.mention("Still?"), reply_to=before.id)
        await eventually(lambda: len(rows(world, "SELECT 1 FROM answers WHERE outcome = 'ok'")) == 6, what="answer")
    assert rows(world, "SELECT arm, comparison_id, parent_answer_id FROM answers ORDER BY answer_id") == [
        (None, None, None),
        ("alternative", 1, None),
        (None, None, 2),
        ("alternative", 1, 2),
        (None, None, 3),
        (None, None, 1),
    ]
