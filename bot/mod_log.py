"""The moderation log: every moderator change, with who made it and what it changed, in the log channel.

A settings change goes through `change_settings`: it is written with an audit row saying old → new for each value
that differs from the current one, and a change that changes nothing writes nothing. One change per server at a
time: the settings are read and written under the server's lock, so two moderators changing settings at once each
see the other's change as the old value. `post_to_log` then tells the server's moderation log channel
(`/scope settings log_channel`, switched off with `log_off`), without pinging anyone; a missing channel or one the
bot can no longer post in never fails the change itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import discord

from bot.digests.text import excerpt
from bot.locks import KeyedLocks
from bot.storage import GuildSettings, Storage

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000  # Discord's limit for one message
SHOWN_TEXT = 80  # characters of a text setting (instructions, a note) shown on each side of a change
SHOWN_CHANNELS = 5  # channels listed on each side of a change of the answer channels; more are counted
EVERY_CHANNEL = "every channel I can read"

# One settings change per server at a time, whichever command or event makes it.
_CHANGING = KeyedLocks()

# What a settings change writes: the values, or a function of the settings as they are just before the change (for a
# change computed from them, such as a channel added to the list; it may raise UserFacingError to refuse).
Changes = Mapping[str, Any] | Callable[[GuildSettings], Mapping[str, Any]]


def _channel(value: Any) -> str:
    return f"<#{value}>" if value else "none"


def _role(value: Any) -> str:
    return f"<@&{value}>" if value else "none"


def _text(value: Any) -> str:
    return f"“{excerpt(str(value), SHOWN_TEXT)}”" if value else "none"


def _full_text(value: Any) -> str:
    return f"“{value}”" if value else "none"


def _budget(value: Any) -> str:
    return f"{value:,}" + (" (answers off)" if value == 0 else "")


def _channels(value: Any) -> str:
    if not value:
        return EVERY_CHANNEL
    listed = [f"<#{channel}>" for channel in value[:SHOWN_CHANNELS]]
    if len(value) > SHOWN_CHANNELS:
        listed.append(f"and {len(value) - SHOWN_CHANNELS} more")
    return ", ".join(listed)


# Each setting a moderator can change: how the log names it and shows its value.
_SHOWN: dict[str, tuple[str, Callable[[Any], str]]] = {
    # /answers
    "answer_channels": ("answers in", _channels),
    "cooldown_seconds": ("cooldown per member", lambda v: f"{v} s"),
    "daily_token_budget": ("daily token budget", _budget),
    "instructions": ("extra instructions", _text),
    "answer_language": ("answer language", lambda v: v or "the member’s own"),
    "answer_in_threads": ("a thread per question", lambda v: "yes" if v else "no"),
    # /scope settings
    "allow_unscoped": ("unscoped answers", lambda v: "allowed, with a note" if v else "off"),
    "log_channel_id": ("moderation log channel", _channel),
    # /digest
    "digest_enabled": ("digests", lambda v: "on" if v else "off"),
    "digest_cron": ("digest schedule", lambda v: f"`{v}`"),
    "digest_timezone": ("digest time zone", str),
    "digest_channel_id": ("digest channel", _channel),
    "digest_data_files": ("data files with each digest", lambda v: "attached" if v else "left out"),
    "research_role_id": ("research role", _role),
    # /research settings
    "retention_days": ("retention of raw text", lambda v: f"{v} days"),
    "research_contact": ("research contact", _text),
    "consent_note": ("consent note", _text),
    "consent_revision": ("consent notice revision", str),
    "rating_scale": ("rating scale", str),
    "rating_controls": ("rating controls", str),
    "reason_tags": ("reason tags", lambda v: _text(", ".join(v))),
}


# The audit row keeps what the log message shortens: it is the record of what members were told (the consent note,
# the research contact) and of what shaped answers (the instructions) before each change.
_IN_FULL: dict[str, Callable[[Any], str]] = {
    "answer_channels": lambda v: ", ".join(f"<#{channel}>" for channel in v) if v else EVERY_CHANNEL,
    "instructions": _full_text,
    "research_contact": _full_text,
    "consent_note": _full_text,
    "reason_tags": lambda v: _full_text(", ".join(v)),
}


def _comparable(value: Any) -> Any:
    """A value as given to the storage (a list, 0/1) or as read back (a tuple, a bool), in one form."""
    return tuple(value) if isinstance(value, list | tuple) else value


def effective_changes(before: GuildSettings, changes: dict[str, Any]) -> dict[str, Any]:
    """Only the changes that change something: a value set to what it is already is left out."""
    return {key: value for key, value in changes.items() if _comparable(getattr(before, key)) != _comparable(value)}


def describe_changes(before: GuildSettings, changes: dict[str, Any], *, columns: bool = False) -> str:
    """Each change as "name old → new", joined by "; ". `columns`: named by their column and with texts and lists in
    full (for the audit log, whose rows researchers read and filter) rather than in words and shortened (for
    moderators)."""
    parts = []
    for key, value in changes.items():
        label, show = _SHOWN.get(key, (key.replace("_", " "), str))
        if columns:
            show = _IN_FULL.get(key, show)
        old, new = _comparable(getattr(before, key)), _comparable(value)
        parts.append(f"{key if columns else label} {show(old)} → {show(new)}")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What a moderator's settings command did: `summary` is empty when it changed nothing."""

    area: str  # e.g. "answers", "digest", "research settings"
    before: GuildSettings
    after: GuildSettings
    summary: str
    note: str = ""  # said after the summary, e.g. that members are asked for consent again

    @property
    def changed(self) -> bool:
        return bool(self.summary)

    @property
    def log_text(self) -> str:
        return f"changed {self.area}: {self.summary}{self.note}"


async def change_settings(
    storage: Storage, guild_id: int, actor_id: int, area: str, changes: Changes, *, note: str = ""
) -> SettingsChange:
    """Write the changes, audited as "<area>: column old → new; …<note>" for those that change something;
    nothing at all (no audit row) when every value is what it is already.

    The settings are read, the changes worked out and written under the server's lock: "old" is what the settings
    were just before this change, also when another moderator changed them a moment before. When any value changes,
    all the values given are written as given: what the moderator asked for is what is stored."""
    async with _CHANGING.hold(guild_id):
        before = await storage.guild_settings(guild_id)
        wanted = dict(changes(before) if callable(changes) else changes)
        effective = effective_changes(before, wanted)
        if not effective:
            return SettingsChange(area, before, before, "")
        detail = f"{area}: {describe_changes(before, effective, columns=True)}{note}"
        after = await storage.update_guild_settings(guild_id, actor_id, wanted, detail=detail)
    return SettingsChange(area, before, after, describe_changes(before, effective), note)


def log_line(actor_id: int, what: str) -> str:
    """One line of the moderation log: who did what ("<@42> changed answers: …")."""
    line = f"<@{actor_id}> {what}"
    line = line if line.endswith((".", "…")) else line + "."
    return line if len(line) <= MESSAGE_LIMIT else excerpt(line, MESSAGE_LIMIT)


async def post_to_log(client: discord.Client, channel_id: int | None, actor_id: int, what: str) -> None:
    """Tell the moderation log channel who did what, pinging nobody; a failure there never fails the change."""
    if channel_id is None:
        return
    channel = client.get_channel(channel_id)
    if not isinstance(channel, discord.abc.Messageable):
        log.warning("moderation log channel %s is gone", channel_id)
        return
    try:
        await channel.send(log_line(actor_id, what), allowed_mentions=discord.AllowedMentions.none())
    except discord.HTTPException as error:
        log.warning("cannot post to the moderation log channel %s: %s", channel_id, error)


async def post_change(client: discord.Client, actor_id: int, change: SettingsChange) -> None:
    """Post a settings change to the log channel (as it is after the change); nothing for a change of nothing."""
    if change.changed:
        await post_to_log(client, change.after.log_channel_id, actor_id, change.log_text)
