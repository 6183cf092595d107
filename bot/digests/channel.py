"""Whether a digest channel suits digests beyond the bot's permissions there (bot/channel_access.py checks those)."""

from __future__ import annotations

from collections.abc import Sequence

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


def data_readers(channel: discord.TextChannel, research_role_id: int | None) -> list[discord.Role]:
    """The roles besides the research role whose members can read the channel, and so the data files posted with
    each digest there; @everyone first when it can. Bots' own roles, and roles with Administrator (who read every
    channel whatever is chosen), are left out."""
    return [
        role
        for role in channel.guild.roles  # lowest first: @everyone is the first
        if role.id != research_role_id
        and not role.managed
        and not role.permissions.administrator
        and channel.permissions_for(role).view_channel
    ]


def data_readers_warning(channel: discord.TextChannel, research_role_id: int | None) -> str:
    """What to tell the moderator choosing `channel` for digests that carry the data files, when more than the
    research team can read it ("" when not)."""
    readers = data_readers(channel, research_role_id)
    whom = readers_named(bool(readers) and readers[0].is_default(), [role.mention for role in readers])
    if not whom:
        return ""
    return (
        f" {whom} can read {channel.mention}: each digest there carries the period's data files (data.zip), which "
        "hold every comment, also those their authors did not allow to be quoted. Choose a channel only the research "
        "team can read, or leave the data files out with `/digest channel data_files:False` (the research role gets "
        "them with `/research-export`)."
    )


def readers_named(everyone: bool, mentions: Sequence[str]) -> str:
    """Who can read a channel, to start a sentence: "Everyone in this server" when `everyone`, else "Members with
    @A, @B" (at most five named, then "and more"); "" when nobody besides the research team."""
    if everyone:
        return "Everyone in this server"
    if not mentions:
        return ""
    return "Members with " + ", ".join(mentions[:5]) + (" and more" if len(mentions) > 5 else "")
