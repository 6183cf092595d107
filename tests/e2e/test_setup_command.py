"""/setup through the stand-in: a fresh server's checklist, the same steps done after the moderators' commands, and
members without Manage Server refused."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_scope_commands import reply_text, run
from tests.unit.test_setup_checklist import steps

MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10


async def checklist(world, user_id):
    """The /setup reply as the moderator sees it: ephemeral, after a deferral, in one embed, pinging no one."""
    record = await run(world, user_id, "setup")
    assert record.ephemeral
    assert record.response_type == 5  # deferred, then followed up
    followup = await world.standin.wait_for_followup(record.id)
    assert followup.mentions == [] and followup.mention_roles == [] and not followup.mention_everyone
    [embed] = followup.embeds
    assert embed["title"] == "How I am set up in this server"
    return embed["description"]


async def test_a_fresh_server_shows_each_step_needing_attention_with_its_command(world, run_bot, moderator):
    async with run_bot(scope=None):
        [command] = [c for c in world.standin.commands() if c["name"] == "setup"]
        assert int(command["default_member_permissions"]) == MANAGE_GUILD  # hidden from members by default
        found = steps(await checklist(world, moderator))
        assert {number: mark for number, (mark, _) in found.items()} == dict.fromkeys(range(1, 6), "⚠️")
        assert "`/scope use <template>`" in found[1][1] and "`/scope upload`" in found[1][1]
        assert "every channel I can read" in found[2][1] and "`/answers channel-add`" in found[2][1]
        assert "`/scope settings log_channel" in found[3][1]
        assert "`/research settings research_contact`" in found[4][1]
        assert "Digest channel: none" in found[5][1] and "`/digest channel`" in found[5][1]
        assert "`/digest research-role`" in found[5][1]


async def test_after_the_moderators_commands_the_same_steps_show_done(world, run_bot, moderator):
    log_channel = int(world.standin.add_channel(world.guild_id, "mod-log")["id"])
    team_only = int(world.standin.add_channel(world.guild_id, "research-team")["id"])
    world.standin.set_permission_overwrite(team_only, world.guild_id, deny=VIEW_CHANNEL)  # @everyone cannot view
    world.standin.set_permission_overwrite(team_only, world.standin.bot_user_id, allow=VIEW_CHANNEL, type=1)
    researchers = world.standin.add_role(world.guild_id, "Researchers")
    async with run_bot(scope=None):
        changes: list[tuple[str, dict[str, Any]]] = [
            ("scope use", {"template": "indonesian-business-jakarta"}),
            ("answers channel-add", {"channel": world.channel_id}),
            ("digest channel", {"channel": team_only}),
        ]
        for name, options in changes:
            await reply_text(world, await run(world, moderator, name, options))
        found = steps(await checklist(world, moderator))
        assert found[1][0] == "✅" and "Indonesian business culture (Jakarta offices)** (version 1)" in found[1][1]
        assert found[2][0] == "✅" and f"Answers in: <#{world.channel_id}>" in found[2][1]
        assert f"Digest channel: <#{team_only}>." in found[5][1] and "Everyone in this server" not in found[5][1]
        assert "next: <t:" in found[5][1]
        assert found[5][0] == "⚠️" and "Research role: none" in found[5][1]  # the one thing left in this step

        more: list[tuple[str, dict[str, Any]]] = [
            ("scope settings", {"log_channel": log_channel}),
            ("research settings", {"research_contact": "Dr. Rina, rina@example.org"}),
            ("digest research-role", {"role": researchers["id"]}),
        ]
        for name, options in more:
            await reply_text(world, await run(world, moderator, name, options))
        found = steps(await checklist(world, moderator))
        assert {number: mark for number, (mark, _) in found.items()} == dict.fromkeys(range(1, 6), "✅")
        assert f"<#{log_channel}>" in found[3][1]
        assert "Dr. Rina, rina@example.org" in found[4][1]
        assert f"<@&{researchers['id']}>" in found[5][1]  # named, not pinged (checked in `checklist`)


async def test_a_digest_channel_everyone_can_read_is_flagged(world, run_bot, moderator, digest_channel):
    async with run_bot():
        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        found = steps(await checklist(world, moderator))
        assert found[5][0] == "⚠️"
        assert f"Everyone in this server can read <#{digest_channel}>" in found[5][1]


async def test_a_member_without_manage_server_is_refused(world, run_bot):
    async with run_bot():
        record = await run(world, world.asker_id, "setup")
        assert record.ephemeral
        assert await reply_text(world, record) == "You need the Manage Server permission to use this command."
        assert world.standin.interactions.record(record.id).followups == []


async def test_about_ends_with_the_line_for_moderators(world, run_bot):
    async with run_bot():
        text = await reply_text(world, await run(world, world.asker_id, "about"))
        assert text.endswith("\n\nModerators: `/setup` shows how this server is set up.")
