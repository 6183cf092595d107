"""The one place where slash-command errors become messages: short for the member, full in the log."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import report_error
from bot.runtime import CultureBot


class ErrorHandler(commands.Cog):
    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot
        self._previous = bot.tree.on_error
        bot.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def cog_unload(self) -> None:
        self.bot.tree.on_error = self._previous  # type: ignore[method-assign]

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await report_error(interaction, error)


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(ErrorHandler(bot))
