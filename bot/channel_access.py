"""Whether the bot can do its work in a channel, checked when moderators choose the channel rather than found out
later (a digest not posted, a moderation log that stays empty, mentions that are never answered)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import discord

# Each use's permissions, by their API names, with the names Discord's settings show.
DIGEST = {
    # The message with its embed and files, and reading recent messages to recognise a digest posted just before a
    # crash (so that it is not posted twice).
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "attach_files": "Attach Files",
    "read_message_history": "Read Message History",
}
LOG = {"view_channel": "View Channel", "send_messages": "Send Messages"}
ANSWERS = {
    # Replies to members' messages (which needs their history), and the rating reactions under each answer.
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "read_message_history": "Read Message History",
    "add_reactions": "Add Reactions",
}
THREADS = {"create_public_threads": "Create Public Threads", "send_messages_in_threads": "Send Messages in Threads"}


# In a forum, members ask in posts (threads): the bot answers inside them and opens none.
FORUM_ANSWERS = {
    "view_channel": "View Channel",
    "send_messages_in_threads": "Send Messages in Posts",
    "read_message_history": "Read Message History",
    "add_reactions": "Add Reactions",
}


def answering_needs(*, threads: bool, rating_controls: str, forum: bool = False) -> dict[str, str]:
    """What answering in a channel takes with the server's settings: Add Reactions only when answers carry rating
    reactions (not with buttons only), and what threads take when each question gets one (not in a `forum`, whose
    posts are threads already)."""
    needed = dict(FORUM_ANSWERS if forum else ANSWERS)
    if rating_controls == "buttons":
        del needed["add_reactions"]
    return {**needed, **THREADS} if threads and not forum else needed


def missing_permissions(permissions: discord.Permissions, needed: Mapping[str, str]) -> list[str]:
    """The names (as Discord shows them) of the `needed` permissions that `permissions` lack."""
    return [label for name, label in needed.items() if not getattr(permissions, name)]


def bot_lacks(channel: discord.abc.GuildChannel | discord.Thread, needed: Mapping[str, str]) -> list[str]:
    """The `needed` permissions the bot lacks in `channel` (names as Discord shows them), from the cached state."""
    return missing_permissions(channel.permissions_for(channel.guild.me), needed)


def is_own_thread(channel: object, me: discord.abc.Snowflake | None) -> bool:
    """Whether `channel` is a thread the bot (`me`) opened: a conversation of its own, one per question in thread
    mode, where a new message continues from the newest answer."""
    return isinstance(channel, discord.Thread) and me is not None and channel.owner_id == me.id


def can_answer_in(channel: discord.abc.GuildChannel | discord.Thread, *, threads: bool) -> bool:
    """Whether the bot can show an answer in `channel` (from the cached state): in a thread it needs Send Messages
    in Threads; in a channel Send Messages, or, when answers go into threads (`threads`), what opening one and
    posting in it takes (a thread it cannot open is answered in the channel)."""
    permissions = channel.permissions_for(channel.guild.me)
    if not permissions.view_channel:
        return False
    if isinstance(channel, discord.Thread):
        return permissions.send_messages_in_threads
    in_thread = threads and permissions.create_public_threads and permissions.send_messages_in_threads
    return permissions.send_messages or in_thread


def unusable_reason(channel: discord.abc.GuildChannel, needed: Mapping[str, str], use: str, command: str) -> str | None:
    """Why the bot cannot `use` (e.g. "post digests") in `channel`, with what to do, or None when it can."""
    missing = bot_lacks(channel, needed)
    if not missing:
        return None
    return (
        f"I can't {use} in {channel.mention}: I lack {', '.join(missing)} there. Give me "
        f"{'that permission' if len(missing) == 1 else 'those permissions'} in the channel's settings "
        f"(Permissions), then run `{command}` again."
    )


def threads_refusal(guild: discord.Guild, channel_ids: Sequence[int]) -> str | None:
    """Why answers cannot go into threads in one of these channels (the first that cannot take them), or None."""
    for channel_id in channel_ids:
        channel = guild.get_channel(channel_id)
        if channel is not None and not isinstance(channel, discord.ForumChannel):  # a forum's posts are threads
            reason = unusable_reason(channel, THREADS, "answer in threads", "/answers settings threads:True")
            if reason is not None:
                return reason
    return None
