"""Digests kept because Discord refused the bot's post are sent as soon as the bot may post again: on the changes
that can give it the permissions back (the digest channel's overwrites, a role it holds, its own roles)."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.digests.channel import overwrites_changed, reaches_bot
from bot.runtime import CultureBot

log = logging.getLogger(__name__)


class DigestDelivery(commands.Cog):
    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot

    async def _send_kept(self, guild: discord.Guild) -> None:
        if self.bot.jobs is None:
            return  # not started yet: the start-up catch-up sends them
        try:
            await self.bot.jobs.digests.send_when_postable(guild.id)
        except Exception:  # an event handler: logged, and the next change or scheduled digest tries again
            log.exception("sending the kept digests of server %d failed", guild.id)

    @commands.Cog.listener()
    async def on_guild_channel_update(self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        if overwrites_changed(before, after):
            await self._send_kept(after.guild)

    @commands.Cog.listener()
    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        if reaches_bot(before, after):
            await self._send_kept(after.guild)

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if self.bot.user is not None and after.id == self.bot.user.id and before.roles != after.roles:
            await self._send_kept(after.guild)


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(DigestDelivery(bot))
