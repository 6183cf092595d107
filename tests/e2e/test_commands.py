"""Slash commands through the stand-in: sync once, answer within the interaction, errors as short replies."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.errors import UserFacingError
from bot.sandbox.discord import DiscordStandIn
from bot.sandbox.discord.testing import connected
from tests.e2e.conftest import build_bot


async def test_commands_are_synced_once_and_about_answers_ephemerally(world, run_bot):
    async with run_bot():
        names = {command["name"] for command in world.standin.commands()}
        assert "about" in names
        interaction_id = await world.standin.invoke_command(world.guild_id, world.channel_id, world.asker_id, "about")
        record = await world.standin.wait_for_interaction_response(interaction_id)
        assert record.ephemeral
        assert record.response_data is not None
        assert "fake-model" in record.response_data["content"]
        assert "✅ 🤔 ❌" in record.response_data["content"]
        assert "use the buttons under an answer" in record.response_data["content"]
        # With reactions only, answers in channels carry no buttons: /about does not send members looking for them.
        moderator = int(
            world.standin.add_member(
                world.guild_id, "mod", roles=[world.standin.add_role(world.guild_id, "Mods", permissions=1 << 5)["id"]]
            )["user"]["id"]
        )
        await world.standin.wait_for_interaction_response(
            await world.standin.invoke_command(
                world.guild_id, world.channel_id, moderator, "research settings", {"rating_controls": "reactions"}
            )
        )
        interaction_id = await world.standin.invoke_command(world.guild_id, world.channel_id, world.asker_id, "about")
        content = (await world.standin.wait_for_interaction_response(interaction_id)).response_data["content"]
        assert "react to an answer with ✅ 🤔 ❌" in content and "use the buttons" not in content
    syncs = world.standin.find_requests("PUT", r"/applications/\d+/commands$")
    assert len(syncs) == 1
    # A restart with the same commands does not sync again (Discord rate-limits command registration).
    async with run_bot():
        pass
    assert len(world.standin.find_requests("PUT", r"/applications/\d+/commands$")) == 1


async def test_commands_missing_on_discord_or_a_new_application_are_synced_again(world, run_bot):
    async with run_bot():
        pass
    # Deleted in the Developer Portal (or overwritten by another program with the same token).
    world.standin.command_registry.bulk_overwrite(None, [])
    async with run_bot():
        assert "about" in {command["name"] for command in world.standin.commands()}
    assert len(world.standin.find_requests("PUT", r"/applications/\d+/commands$")) == 2
    # The same database with another bot (a new token): that application gets the commands too.
    async with DiscordStandIn(bot_username="culturebot-prod") as other:
        other.add_guild("Kopi Talk")
        settings = world.settings(
            discord_token=other.token, discord_api_base=other.api_base, discord_gateway_url=other.gateway_url
        )
        async with connected(build_bot(settings), other):
            assert "about" in {command["name"] for command in other.commands()}


async def test_guild_sync_mode_registers_per_server(world, run_bot):
    async with run_bot(command_sync="guild", dev_guild_ids=str(world.guild_id)):
        assert {c["name"] for c in world.standin.commands(guild_id=world.guild_id)} >= {"about"}
    assert world.standin.find_requests("PUT", rf"/applications/\d+/guilds/{world.guild_id}/commands$")


async def test_command_errors_become_short_messages(world, run_bot):
    async with run_bot(command_sync="off") as bot:

        @app_commands.command(name="explode", description="fails unexpectedly")
        async def explode(interaction: discord.Interaction) -> None:
            raise RuntimeError("secret internal detail")

        @app_commands.command(name="refuse", description="fails with a message for the member")
        async def refuse(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True)
            raise UserFacingError("Pick a scope first with /scope use.")

        @app_commands.command(name="guarded", description="needs Manage Server")
        @app_commands.checks.has_permissions(manage_guild=True)
        async def guarded(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("ok")

        bot.tree.add_command(explode)
        bot.tree.add_command(refuse)
        bot.tree.add_command(guarded)
        await bot.tree.sync()

        first = await world.standin.invoke_command(world.guild_id, world.channel_id, world.asker_id, "explode")
        record = await world.standin.wait_for_interaction_response(first)
        assert record.ephemeral
        assert record.response_data is not None
        content = record.response_data["content"]
        assert content.startswith("Something went wrong on our side")
        assert "secret internal detail" not in content

        second = await world.standin.invoke_command(world.guild_id, world.channel_id, world.asker_id, "refuse")
        followup = await world.standin.wait_for_followup(second)
        assert followup.content == "Pick a scope first with /scope use."

        third = await world.standin.invoke_command(world.guild_id, world.channel_id, world.asker_id, "guarded")
        record = await world.standin.wait_for_interaction_response(third)
        assert record.response_data is not None
        assert record.response_data["content"] == "You need the Manage Server permission to use this command."
