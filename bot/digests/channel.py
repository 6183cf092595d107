"""Whether a digest channel suits digests beyond the bot's permissions there (bot/channel_access.py checks those)."""

from __future__ import annotations

import discord


def readable_by_everyone(channel: discord.TextChannel) -> bool:
    """Whether every member of the server can read the channel (digests quote comments for follow-up)."""
    return channel.permissions_for(channel.guild.default_role).view_channel
