"""Settings that name a channel a moderator deleted: what the bot does about them, and tells the moderation log.

- An answer channel is taken off the list. The last one is not: an empty list means every channel the bot can
  read, and a deleted channel must not widen the bot to the whole server. It stays in the list, so the bot
  answers nowhere until a moderator chooses (`/answers channel-add`, or `/answers channel-remove`, which offers
  it as "deleted channel <id>"); `/setup` flags it meanwhile.
- The moderation log channel is cleared (nothing can be posted there any more).
- The digest channel is left as it is: the digest delivery keeps a digest it cannot post and tells the moderators,
  and sends it once `/digest channel` names another channel (bot/digests/service.py).

`forget_deleted_channels` runs when Discord says a channel was deleted; `forget_channels_gone` when a server becomes
available (at start-up), for channels deleted while the bot was offline. Both are idempotent. The settings change
goes through `change_settings` (under the server's lock, audited old → new, made by the bot's own user); what the
bot keeps as it is gets an audit row of its own (`NOTED`), once per channel, which also keeps a restart from
telling the log again.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import discord

from bot.mod_log import change_settings, post_to_log
from bot.storage import GuildSettings, Storage

log = logging.getLogger(__name__)

NOTED = "channel.deleted"  # audit action of a deleted channel the settings keep; its detail starts with "<#id>"


@dataclass(frozen=True, slots=True)
class Cleanup:
    """What the deletion of some channels means for a server's settings."""

    changes: dict[str, Any]  # the settings to write (nothing when none changes)
    kept_answer_channels: tuple[int, ...] = ()  # deleted, kept because no answer channel is left without them
    digest_channel: int | None = None  # the digest channel, deleted and kept


def stored_channels(settings: GuildSettings) -> set[int]:
    """Every channel the settings name."""
    named = set(settings.answer_channels)
    named.update(c for c in (settings.log_channel_id, settings.digest_channel_id) if c is not None)
    return named


def cleanup(settings: GuildSettings, gone: Collection[int]) -> Cleanup:
    """What to change (and keep) in `settings` now that the channels `gone` no longer exist."""
    changes: dict[str, Any] = {}
    kept: tuple[int, ...] = ()
    listed = settings.answer_channels
    remaining = [channel for channel in listed if channel not in gone]
    if remaining and len(remaining) < len(listed):
        changes["answer_channels"] = remaining
    elif not remaining:
        kept = listed  # all of them gone: kept, so that the bot answers nowhere rather than everywhere
    if settings.log_channel_id is not None and settings.log_channel_id in gone:
        changes["log_channel_id"] = None
    digest = settings.digest_channel_id if settings.digest_channel_id in gone else None
    return Cleanup(changes, kept, digest)


def _named(channels: Collection[int]) -> str:
    listed = sorted(channels)
    return ", ".join(f"<#{c}>" for c in listed) + (" was" if len(listed) == 1 else " were")


def kept_answer_channels_text(channels: Collection[int]) -> str:
    """What the moderation log is told when the last answer channels were deleted (after the bot's mention)."""
    them = "the deleted channel" if len(channels) == 1 else "the deleted channels"
    return (
        f"noted that {_named(channels)} deleted. No other channel I answer in is left, so I answer nowhere now (an "
        "empty list would mean every channel I can read). Choose where I answer with `/answers channel-add`; or take "
        f"{them} off the list with `/answers channel-remove` (it is offered as “deleted channel <id>”), and "
        "then I answer in every channel I can read"
    )


def kept_digest_channel_text(channel: int) -> str:
    """What the moderation log is told when the digest channel was deleted (after the bot's mention)."""
    return (
        f"noted that <#{channel}>, the digest channel, was deleted. Digests are kept, not lost: they are posted "
        "once `/digest channel` names another channel"
    )


async def forget_deleted_channels(
    client: discord.Client, storage: Storage, guild_id: int, gone: Collection[int]
) -> None:
    """Bring the server's settings up to date with the channels `gone` (deleted), and tell the moderation log
    (if it still exists) what changed and what needs a moderator. Channels the settings do not name are ignored."""
    assert client.user is not None
    actor = client.user.id
    gone = set(gone) & stored_channels(await storage.guild_settings(guild_id))
    if not gone:
        return
    change = await change_settings(
        storage, guild_id, actor, f"settings, as {_named(gone)} deleted", lambda before: cleanup(before, gone).changes
    )
    done = cleanup(change.before, gone)
    said = [change.log_text] if change.changed else []
    kept = done.kept_answer_channels
    if kept and await _noted(storage, guild_id, actor, kept, "no other answer channel is left, so it stays listed"):
        said.append(kept_answer_channels_text(kept))
    digest = done.digest_channel
    if digest is not None and await _noted(storage, guild_id, actor, [digest], "it is the digest channel, kept"):
        said.append(kept_digest_channel_text(digest))
    if said:
        log.info("server %d: settings brought up to date with deleted channels %s", guild_id, sorted(gone))
    for text in said:
        await post_to_log(client, change.after.log_channel_id, actor, text)


async def _noted(storage: Storage, guild_id: int, actor: int, channels: Collection[int], why: str) -> bool:
    """Audit each of these deleted channels the settings keep, once; whether any was not audited before (a
    restart finds the same channels gone again, and the moderation log is told once)."""
    new = False
    for channel in channels:
        if await storage.last_audit_time(guild_id, NOTED, f"<#{channel}>") is None:
            await storage.add_audit(guild_id, actor, NOTED, f"<#{channel}> was deleted: {why}")
            new = True
    return new


async def forget_channels_gone(client: discord.Client, storage: Storage, guild: discord.Guild) -> None:
    """The same, for the channels the settings name that the server no longer has (deleted while the bot was
    offline, when Discord sends no event for it)."""
    if guild.unavailable or not guild.channels:
        return  # nothing known about its channels (an outage): nothing to conclude
    settings = await storage.guild_settings(guild.id)
    gone = {channel for channel in stored_channels(settings) if guild.get_channel(channel) is None}
    if gone:
        await forget_deleted_channels(client, storage, guild.id, gone)
