"""Once a research role is set, only its members (or administrators) choose where the research data goes: the
research role and the digest channel (bot/research_access.py); and who received the data files is recorded."""

from __future__ import annotations

from tests.e2e.test_digests import rated_answers, researcher_with_a_day, rows
from tests.e2e.test_mod_log import log_lines, logged, with_log_channel
from tests.e2e.test_scope_commands import reply_text, run
from tests.helpers import eventually

MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3


async def test_a_moderator_without_the_research_role_cannot_redirect_the_data(
    world, run_bot, moderator, digest_channel
):
    researchers, _, _ = researcher_with_a_day(world)
    leads = world.standin.add_role(world.guild_id, "Research leads", permissions=MANAGE_GUILD)
    lead = int(world.standin.add_member(world.guild_id, "dr-mod", roles=[researchers["id"], leads["id"]])["user"]["id"])
    admins = world.standin.add_role(world.guild_id, "Admins", permissions=ADMINISTRATOR)
    admin = int(world.standin.add_member(world.guild_id, "owner-ish", roles=[admins["id"]])["user"]["id"])
    elsewhere = int(world.standin.add_channel(world.guild_id, "mods-only")["id"])
    own_role = world.standin.add_role(world.guild_id, "Mods")
    async with run_bot(cooldown=0):
        # Setting up: no research role yet, so moderators choose both.
        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researchers["id"]}))
        stored = rows(world, "SELECT digest_channel_id, research_role_id FROM guild_settings")
        assert stored == [(digest_channel, int(researchers["id"]))]

        for command, options, what in [
            ("digest channel", {"channel": elsewhere}, "the digest channel"),
            ("digest research-role", {"role": own_role["id"]}, "the research role"),
        ]:
            refused = await reply_text(world, await run(world, moderator, command, options))
            assert refused.startswith(
                f"Only members with the research role <@&{researchers['id']}>, or administrators, can change {what}"
            ), refused
            assert rows(world, "SELECT digest_channel_id, research_role_id FROM guild_settings") == stored

        # A researcher who is also a moderator, and an administrator, can.
        moved = await reply_text(world, await run(world, lead, "digest channel", {"channel": elsewhere}))
        assert f"<#{elsewhere}>" in moved
        back = await reply_text(world, await run(world, admin, "digest channel", {"channel": digest_channel}))
        assert f"<#{digest_channel}>" in back
        assert rows(world, "SELECT digest_channel_id FROM guild_settings") == [(digest_channel,)]


async def test_who_received_the_research_data_is_recorded_and_logged(world, run_bot, moderator):
    researchers, researcher, span = researcher_with_a_day(world)
    async with run_bot(cooldown=0):
        log = await with_log_channel(world, moderator)
        await rated_answers(world, count=1)
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researchers["id"]}))
        lines = len(log_lines(world, log))
        reply = await run(world, researcher, "research-export", span)
        followup = await world.standin.wait_for_followup(reply.id, timeout=20)
        assert followup.attachment("data.zip").data
        what = f"received the research data files: Research data for {span['start']} – {span['end']} (UTC)"
        exports = "SELECT actor_id, detail FROM audit_log WHERE action = 'research.export'"
        [(actor, detail)] = await eventually(lambda: rows(world, exports), what="the export's audit row")
        assert (actor, detail) == (researcher, what)
        assert (await logged(world, log, lines + 1))[-1] == f"<@{researcher}> {what}."
        # A moderator's preview without the data files is no export.
        preview = await run(world, moderator, "digest preview")
        await world.standin.wait_for_followup(preview.id, timeout=20)
        assert rows(world, "SELECT count(*) FROM audit_log WHERE action = 'research.export'") == [(1,)]


async def test_a_deleted_research_role_is_logged_and_moderators_are_told_only_an_administrator_can_choose_another(
    world, run_bot, moderator, digest_channel
):
    researchers, _, _ = researcher_with_a_day(world)
    other = world.standin.add_role(world.guild_id, "New researchers")
    async with run_bot(cooldown=0):
        log_channel = await with_log_channel(world, moderator)
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researchers["id"]}))
        world.standin.delete_role(world.guild_id, researchers["id"])
        await eventually(
            lambda: any(
                f"research role <@&{researchers['id']}> was deleted" in line for line in log_lines(world, log_channel)
            ),
            what="the moderation log told",
        )
        refused = await reply_text(world, await run(world, moderator, "digest research-role", {"role": other["id"]}))
        assert refused.startswith("The research role set for this server was deleted, so only an administrator"), (
            refused
        )
        assert f"<@&{researchers['id']}>" not in refused  # Discord shows a deleted role as @deleted-role
        setup = await world.standin.wait_for_followup((await run(world, moderator, "setup")).id)
        assert "An administrator chooses another with `/digest research-role`" in setup.embeds[0]["description"]
