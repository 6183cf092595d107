"""The one place where slash-command errors become messages: short for the member, full in the log."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import describe_command_error
from bot.runtime import CultureBot

log = logging.getLogger(__name__)


class ErrorHandler(commands.Cog):
    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot
        self._previous = bot.tree.on_error
        bot.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def cog_unload(self) -> None:
        self.bot.tree.on_error = self._previous  # type: ignore[method-assign]

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        reply = describe_command_error(error)
        message = reply.message
        command = interaction.command.qualified_name if interaction.command else "?"
        if reply.reference is not None:
            log.error("/%s failed (reference %s)", command, reply.reference, exc_info=getattr(error, "original", error))
        else:
            log.info("/%s refused: %s", command, message)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True)
            else:
                await interaction.response.send_message(message, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the member about the error in /%s", command)


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(ErrorHandler(bot))
