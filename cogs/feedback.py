"""Fit ratings by reaction on the bot's answers."""

from __future__ import annotations

import discord
from discord.ext import commands

from bot.feedback.ratings import apply_reaction
from bot.runtime import CultureBot


class Feedback(commands.Cog):
    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot

    async def _on_reaction(self, event: discord.RawReactionActionEvent, *, added: bool) -> None:
        if event.guild_id is None or self.bot.user is None or event.user_id == self.bot.user.id:
            return
        await apply_reaction(
            self.bot.storage,
            self.bot.pseudonyms,
            self.bot.rating_scale,
            message_id=event.message_id,
            user_id=event.user_id,
            emoji=str(event.emoji),
            added=added,
        )

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(event, added=True)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, event: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(event, added=False)


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(Feedback(bot))
