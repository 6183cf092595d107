"""/setup: moderators see how the server is set up, step by step, with the command for each step."""

from __future__ import annotations

from datetime import UTC, datetime

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import guild_id_of
from bot.runtime import CultureBot
from bot.setup_checklist import TITLE, server_facts, setup_checklist


class Setup(commands.Cog):
    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot

    @app_commands.command(name="setup", description="How this server is set up, step by step, and what to change")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def show_setup(self, interaction: discord.Interaction) -> None:
        guild_id = guild_id_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = await self.bot.storage.guild_settings(guild_id)
        scope = await self.bot.storage.current_scope(guild_id)
        facts = server_facts(interaction.guild, settings) if interaction.guild is not None else None
        # In an embed: the checklist may be longer than a message's 2,000 characters (many channels, long reasons).
        embed = discord.Embed(title=TITLE, description=setup_checklist(settings, scope, datetime.now(UTC), facts))
        # Channels and the research role are named, never pinged.
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(Setup(bot))
