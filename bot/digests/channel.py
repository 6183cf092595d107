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


Reader = discord.Role | discord.Member | discord.Object


def data_readers(channel: discord.TextChannel, research_role_id: int | None) -> list[Reader]:
    """Who besides the research role can read the channel, and so the data files posted with each digest there:
    roles (@everyone first when it can, the rest lowest first), then members let in by an overwrite of their own.
    Bots and their roles, members holding the research role, and Administrator roles and members (who read every
    channel whatever is chosen) are left out."""
    roles: list[Reader] = [
        role
        for role in channel.guild.roles  # lowest first: @everyone is the first
        if role.id != research_role_id
        and not role.managed
        and not role.permissions.administrator
        and channel.permissions_for(role).view_channel
    ]
    return roles + [
        target
        for target, overwrite in channel.overwrites.items()
        if _member_reads(channel, target, overwrite, research_role_id)
    ]


def _member_reads(
    channel: discord.TextChannel,
    target: Reader,
    overwrite: discord.PermissionOverwrite,
    research_role_id: int | None,
) -> bool:
    """Whether the target of a member's own overwrite reads the channel outside the research role."""
    if isinstance(target, discord.Member):
        return (
            not target.bot
            and not target.guild_permissions.administrator
            and (research_role_id is None or target.get_role(research_role_id) is None)
            and channel.permissions_for(target).view_channel
        )
    # A member the bot has not cached: their overwrite lets them read whatever their roles say.
    return isinstance(target, discord.Object) and target.type is not discord.Role and overwrite.view_channel is True


def mention_of(reader: Reader) -> str:
    return reader.mention if isinstance(reader, discord.Role | discord.Member) else f"<@{reader.id}>"


def is_everyone(readers: Sequence[Reader]) -> bool:
    """Whether the first of `data_readers` is @everyone."""
    return bool(readers) and isinstance(readers[0], discord.Role) and readers[0].is_default()


def data_readers_warning(channel: discord.TextChannel, research_role_id: int | None) -> str:
    """What to tell the moderator choosing `channel` for digests that carry the data files, when more than the
    research team can read it ("" when not)."""
    readers = data_readers(channel, research_role_id)
    whom = readers_named(is_everyone(readers), [mention_of(reader) for reader in readers])
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
    @A, @B" for roles and "@C" for members (at most five named, then "and more"); "" when nobody besides the research
    team."""
    if everyone:
        return "Everyone in this server"
    if not mentions:
        return ""
    roles = [mention for mention in mentions[:5] if mention.startswith("<@&")]
    members = [mention for mention in mentions[:5] if not mention.startswith("<@&")]
    named = " and ".join(
        part for part in ("Members with " + ", ".join(roles) if roles else "", ", ".join(members)) if part
    )
    return named + (" and more" if len(mentions) > 5 else "")
