"""Whether a channel can take the digest, checked when moderators choose it rather than on digest day."""

from __future__ import annotations

import discord

# What posting a digest needs: the message with its embed and files, and reading the channel's recent messages to
# recognise a digest posted just before a crash (so that it is not posted twice).
NEEDED = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "attach_files": "Attach Files",
    "read_message_history": "Read Message History",
}


def missing_permissions(permissions: discord.Permissions) -> list[str]:
    """The names (as Discord shows them) of the permissions a digest needs that `permissions` lack."""
    return [label for name, label in NEEDED.items() if not getattr(permissions, name)]


def unusable_reason(channel: discord.TextChannel) -> str | None:
    """Why the bot cannot post digests in `channel` (with what to do), or None when it can."""
    missing = missing_permissions(channel.permissions_for(channel.guild.me))
    if not missing:
        return None
    return (
        f"I can't post digests in {channel.mention}: I lack {', '.join(missing)} there. Give me "
        f"{'that permission' if len(missing) == 1 else 'those permissions'} in the channel's settings "
        "(Permissions), then run `/digest channel` again."
    )


def readable_by_everyone(channel: discord.TextChannel) -> bool:
    """Whether every member of the server can read the channel (digests quote comments for follow-up)."""
    return channel.permissions_for(channel.guild.default_role).view_channel
