"""Whether a digest channel suits digests beyond the bot's permissions there (bot/channel_access.py checks those)."""

from __future__ import annotations

import discord


def readable_by_everyone(channel: discord.TextChannel) -> bool:
    """Whether every member of the server can read the channel (digests quote comments for follow-up)."""
    return channel.permissions_for(channel.guild.default_role).view_channel


def reaches_bot(before: discord.Role, after: discord.Role) -> bool:
    """Whether a role's change may change what the bot may do: its permissions changed, and the bot holds the role
    (every member holds @everyone)."""
    if before.permissions == after.permissions:
        return False
    me = after.guild.me
    return after.is_default() or (me is not None and me.get_role(after.id) is not None)


def overwrites_changed(before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> bool:
    """Whether a channel's permission overwrites changed (set in its settings, or synced with its category)."""
    return before.overwrites != after.overwrites or before.category_id != after.category_id
