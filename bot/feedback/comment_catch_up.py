"""Reply comments deleted or edited while the bot was not connected, read back from Discord when it connects.

A member takes a `fit: …` comment back by deleting its message, or changes it by editing the message
(cogs/feedback.py follows both live). Discord does not replay the events a bot missed outside a resumed session,
and deleting a thread sends no event per message in it. So at each new gateway session the bot reads back the
messages of the newest reply comments (those the reaction catch-up window covers) and makes each stored comment
follow its message, as the live events would have: a message gone (or its channel) deletes the comment; an edited
one updates or removes it (`follow_reply_edit`). A message that cannot be read (no access, Discord failing) is left
as it is, and so is one whose text Discord withholds (no Message Content intent, and the message does not mention
the bot): nothing can be compared.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import discord

from bot.digests.deletion import Deletion
from bot.errors import DISCORD_FAILURES, discord_failure
from bot.feedback.comments import follow_reply_edit, reply_comment_text
from bot.feedback.ratings import Deleting
from bot.locks import KeyedLocks
from bot.pseudonyms import Pseudonymizer
from bot.storage import Storage, sqlite_timestamp

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CommentCatchUpCounts:
    read: int = 0  # messages read back
    deleted: int = 0  # comments whose message (or channel) was deleted meanwhile
    changed: int = 0  # comments updated or removed after their message was edited
    unreadable: int = 0
    errors: list[str] = field(default_factory=list)


async def catch_up_comments(
    client: discord.Client,
    storage: Storage,
    pseudonyms: Pseudonymizer,
    *,
    prefix: str,
    since: datetime,
    limit: int,
    stopping: Callable[[], bool] = lambda: False,
    deleting: Deleting | None = None,
    messages: KeyedLocks | None = None,
) -> CommentCatchUpCounts:
    """Make the `limit` newest reply comments stored since `since` follow their messages (see the module docstring);
    stops between messages once `stopping()` is true. `deleting(guild_id)` (the bot's `deleting_member_data`) is
    around each change: that server's digests not posted yet are made again without what was taken back.
    `messages` (held by message id, as the live edit and deletion handlers hold it) is held from the read to the
    write: an edit the member makes meanwhile is applied after, not overwritten by the older text read."""
    counts = CommentCatchUpCounts()
    if client.user is None:
        return counts
    for guild_id, channel_id, message_id in await storage.reply_comments_since(sqlite_timestamp(since), limit):
        if stopping():
            break
        async with messages.hold(message_id) if messages is not None else contextlib.nullcontext():
            await _follow_message(
                client, storage, pseudonyms, prefix, guild_id, channel_id, message_id, counts, deleting
            )
    return counts


async def _follow_message(
    client: discord.Client,
    storage: Storage,
    pseudonyms: Pseudonymizer,
    prefix: str,
    guild_id: int,
    channel_id: int,
    message_id: int,
    counts: CommentCatchUpCounts,
    deleting: Deleting | None,
) -> None:
    """Read one reply comment's message back and make its comment follow it, adding to `counts`."""
    assert client.user is not None
    taking_back = deleting(guild_id) if deleting is not None else contextlib.nullcontext(Deletion())
    try:
        message = await client.get_partial_messageable(channel_id, guild_id=guild_id).fetch_message(message_id)
    except discord.NotFound:  # the message, or its channel or thread, was deleted
        async with taking_back as deletion:
            removed = await storage.delete_comments_of_messages([message_id])
            deletion.deleted = removed > 0
        counts.deleted += removed
        return
    except DISCORD_FAILURES as error:
        counts.unreadable += 1
        if len(counts.errors) < 5:
            counts.errors.append(f"message {message_id}: {discord_failure(error)}")
        return
    counts.read += 1
    if not message.content:
        return  # withheld (no Message Content intent): nothing to compare
    text = reply_comment_text(message.content, prefix, client.user.id)
    async with taking_back as deletion:
        changed = await follow_reply_edit(storage, pseudonyms, guild_id, message.author.id, message_id, text)
        deletion.deleted = changed is not None
    counts.changed += changed is not None
