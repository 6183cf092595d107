"""/setup's checklist over hand-made settings: each step's state and the command that does or changes it."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.setup_checklist import ServerFacts, schedule_in_words, setup_checklist
from bot.storage import GuildSettings, ScopeSource, ScopeVersion

GUILD = 1001
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday
ASK_CHANNEL, LOG_CHANNEL, DIGEST_CHANNEL, RESEARCH_ROLE = 2001, 2002, 2003, 3001
SCOPE = ScopeVersion(
    version_id=7,
    guild_id=GUILD,
    number=3,
    scope_id="kopi",
    title="Coffee-shop talk among Jakarta office workers",
    content="",
    content_sha256="",
    source=ScopeSource.UPLOAD,
    change_summary="",
    author_id=42,
    created_at="2026-03-01T00:00:00.000Z",
)
SET_UP = GuildSettings(
    guild_id=GUILD,
    current_scope_id=7,
    log_channel_id=LOG_CHANNEL,
    research_contact="Dr. Rina, rina@example.org",
    answer_channels=(ASK_CHANNEL,),
    digest_timezone="Asia/Jakarta",
    digest_channel_id=DIGEST_CHANNEL,
    research_role_id=RESEARCH_ROLE,
)


def steps(text: str) -> dict[int, tuple[str, str]]:
    """Each numbered step's mark (✅ or ⚠️) and its whole block of text."""
    found = {}
    for block in text.split("\n\n"):
        heading = re.match(r"(✅|⚠️) \*\*(\d)\. ", block)
        if heading:
            found[int(heading.group(2))] = (heading.group(1), block)
    return found


def test_a_fresh_server_needs_every_step_with_the_command_for_it():
    text = setup_checklist(GuildSettings(guild_id=GUILD), None, NOW)
    found = steps(text)
    assert sorted(found) == [1, 2, 3, 4, 5]
    assert all(mark == "⚠️" for mark, _ in found.values())
    scope = found[1][1]
    assert "Not declared yet" in scope
    assert "`/scope templates`" in scope and "`/scope use <template>`" in scope and "`/scope upload`" in scope
    assert "Unscoped answers: off" in scope
    answers = found[2][1]
    assert "Answers in: every channel I can read" in answers and "`/answers channel-add`" in answers
    assert "Cooldown per member: 10 s" in answers and "Daily token budget: 200,000" in answers
    assert "No log channel" in found[3][1] and "`/scope settings log_channel" in found[3][1]
    research = found[4][1]
    assert "Research contact: not set" in research and "`/research settings research_contact`" in research
    assert "180 days" in research and "fit3 (✅ 🤔 ❌)" in research and "reactions and buttons" in research
    digests = found[5][1]
    assert "On: weekly, on Mondays at 09:00, UTC time." in digests
    assert "next:" not in digests  # no digest is made without a channel
    assert "Digest channel: none" in digests and "`/digest channel`" in digests
    assert "Research role: none" in digests and "`/digest research-role`" in digests
    assert "`/privacy`" in text.split("\n\n")[-1] and "consent notice" in text.split("\n\n")[-1]
    assert len(text) <= 4096


def test_a_server_set_up_fully_shows_every_step_done():
    text = setup_checklist(SET_UP, SCOPE, NOW, ServerFacts())
    found = steps(text)
    assert [mark for mark, _ in found.values()] == ["✅"] * 5
    assert text.count("⚠️") == 1  # the legend's
    assert "**Coffee-shop talk among Jakarta office workers** (version 3)" in found[1][1]
    assert f"Answers in: <#{ASK_CHANNEL}>" in found[2][1]
    assert f"<#{LOG_CHANNEL}>" in found[3][1]
    assert "Dr. Rina, rina@example.org" in found[4][1]
    digests = found[5][1]
    # Monday 9 March 09:00 in Jakarta (UTC+7) is 02:00 UTC.
    next_run = int(datetime(2026, 3, 9, 2, 0, tzinfo=UTC).timestamp())
    assert f"On: weekly, on Mondays at 09:00, Asia/Jakarta time; next: <t:{next_run}:F>." in digests
    assert f"Digest channel: <#{DIGEST_CHANNEL}>." in digests
    assert f"<@&{RESEARCH_ROLE}>" in digests


def test_a_digest_channel_everyone_can_read_needs_attention():
    found = steps(setup_checklist(SET_UP, SCOPE, NOW, ServerFacts(digest_channel_public=True)))
    assert [found[n][0] for n in range(1, 6)] == ["✅", "✅", "✅", "✅", "⚠️"]
    assert f"Everyone in this server can read <#{DIGEST_CHANNEL}>" in found[5][1]
    assert "data files" in found[5][1]


def test_a_digest_channel_other_roles_can_read_needs_attention_unless_the_data_files_are_left_out():
    facts = ServerFacts(digest_channel_readers=("<@&11>", "<@&12>"))
    found = steps(setup_checklist(SET_UP, SCOPE, NOW, facts))
    assert found[5][0] == "⚠️"
    assert f"Members with <@&11>, <@&12> can read <#{DIGEST_CHANNEL}>" in found[5][1]
    without_data = dataclasses.replace(SET_UP, digest_data_files=False)
    assert steps(setup_checklist(without_data, SCOPE, NOW, facts))[5][0] == "✅"


def test_no_research_role_needs_attention():
    settings = replace(SET_UP, research_role_id=None)
    found = steps(setup_checklist(settings, SCOPE, NOW, ServerFacts()))
    assert [found[n][0] for n in range(1, 6)] == ["✅", "✅", "✅", "✅", "⚠️"]
    assert "Research role: none, so nobody can export" in found[5][1]
    assert "`/digest research-role`" in found[5][1]


def test_what_discord_says_about_channels_and_the_role_is_flagged():
    facts = ServerFacts(
        missing_channels=frozenset({LOG_CHANNEL}),
        channel_problems={ASK_CHANNEL: "I can't answer in <#2001>: I lack Add Reactions there."},
        research_role_missing=True,
    )
    found = steps(setup_checklist(SET_UP, SCOPE, NOW, facts))
    assert [found[n][0] for n in range(1, 6)] == ["✅", "⚠️", "⚠️", "✅", "⚠️"]
    assert "I lack Add Reactions" in found[2][1]
    assert f"<#{LOG_CHANNEL}> no longer exists" in found[3][1]
    assert "no longer exists" in found[5][1] and "`/digest research-role`" in found[5][1]


def test_an_answer_channel_deleted_needs_attention_with_the_command_that_takes_it_off():
    settings = replace(SET_UP, answer_channels=(ASK_CHANNEL, 2009))
    found = steps(setup_checklist(settings, SCOPE, NOW, ServerFacts(missing_channels=frozenset({2009}))))
    assert found[2][0] == "⚠️"
    assert (
        "1 channel in the list no longer exists (deleted channel 2009): take it off with `/answers channel-remove`"
        in (found[2][1])
    )
    gone = steps(setup_checklist(settings, SCOPE, NOW, ServerFacts(missing_channels=frozenset({ASK_CHANNEL, 2009}))))
    assert gone[2][0] == "⚠️" and "I answer nowhere" in gone[2][1]
    assert "`/answers channel-add`" in gone[2][1] and "`/answers channel-remove`" in gone[2][1]


def test_many_deleted_answer_channels_are_counted_beyond_the_first_few():
    deleted = tuple(range(2010, 2016))
    settings = replace(SET_UP, answer_channels=(ASK_CHANNEL, *deleted))
    found = steps(setup_checklist(settings, SCOPE, NOW, ServerFacts(missing_channels=frozenset(deleted))))
    assert (
        "6 channels in the list no longer exist (deleted channel 2010, deleted channel 2011, deleted channel "
        in (found[2][1])
    )
    assert "2012 and 3 more): take them off with `/answers channel-remove`." in found[2][1]


def test_a_deleted_log_channel_says_how_to_choose_another_or_switch_the_log_off():
    found = steps(setup_checklist(SET_UP, SCOPE, NOW, ServerFacts(missing_channels=frozenset({LOG_CHANNEL}))))
    assert found[3][0] == "⚠️"
    assert (
        f"<#{LOG_CHANNEL}> no longer exists: choose another with `/scope settings log_channel`, or stop "
        in (found[3][1])
    )
    assert "`/scope settings log_off:True`" in found[3][1]


def test_digests_off_a_zero_budget_and_unscoped_answers_are_shown():
    settings = replace(SET_UP, digest_enabled=False, daily_token_budget=0, allow_unscoped=True)
    found = steps(setup_checklist(settings, None, NOW, ServerFacts()))
    assert found[1][0] == "⚠️" and "I answer with a note that there is none" in found[1][1]
    assert "Unscoped answers: allowed" in found[1][1]
    assert found[2][0] == "⚠️" and "answers are switched off" in found[2][1]
    assert found[5][0] == "⚠️" and "Off (schedule kept: weekly, on Mondays at 09:00, Asia/Jakarta time)" in found[5][1]
    assert "next:" not in found[5][1]


def test_a_saved_schedule_no_longer_accepted_says_why_and_how_to_set_one():
    settings = replace(SET_UP, digest_cron="0 9 1 * mon")  # saved before both a day and a weekday were refused
    mark, digests = steps(setup_checklist(settings, SCOPE, NOW, ServerFacts()))[5]
    assert mark == "⚠️"
    assert (
        "The saved schedule `0 9 1 * mon` is no longer accepted, so no scheduled digest is made: `0 9 1 * mon` sets "
        "both a day of the month and a weekday" in digests
    )
    assert "`0 9 * * mon` for those weekdays. Set one with `/digest schedule`." in digests


def test_the_longest_settings_still_fit_in_one_embed():
    settings = GuildSettings(
        guild_id=GUILD,
        log_channel_id=10**18,
        research_contact="x" * 300,
        rating_scale="likert5",
        answer_channels=tuple(10**18 + n for n in range(60)),
        instructions="y" * 1500,
        digest_cron="0 9 1,15 * *",
        digest_timezone="America/Argentina/ComodRivadavia",
        digest_channel_id=10**18 + 100,
        research_role_id=10**18 + 200,
    )
    problem = "I can't answer in <#1000000000000000000>: I lack View Channel, Send Messages, Read Message " * 2
    facts = ServerFacts(
        channel_problems={channel: problem for channel in (*settings.answer_channels, 10**18, 10**18 + 100)},
        digest_channel_public=True,
        research_role_missing=True,
    )
    scope = replace(SCOPE, title="z" * 200)
    text = setup_checklist(settings, scope, NOW, facts)
    assert len(text) <= 4096, len(text)  # an embed's description


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("0 9 * * mon", "weekly, on Mondays at 09:00"),
        ("0 9 * * *", "daily at 09:00"),
        ("0 9 1 * *", "monthly, on day 1 at 09:00"),
        ("30 17 * * 1-5", "on Mondays, Tuesdays, Wednesdays, Thursdays and Fridays at 17:30"),
        ("0 8 * * fri,mon", "on Mondays and Fridays at 08:00"),
        ("0 8 * * 0", "weekly, on Sundays at 08:00"),
        ("15 * * * *", "hourly, at 15 minutes past the hour"),
        ("0 9 1,15 * *", "by the cron line `0 9 1,15 * *`"),
        ("0 9 * 6 *", "by the cron line `0 9 * 6 *`"),
    ],
)
def test_schedules_in_words(cron, words):
    assert schedule_in_words(cron) == words
