"""Naming and picking the server's answer channels in `/answers channel-remove`, deleted ones included.

Discord's channel picker lists only channels that exist, so a channel deleted while it was an answer channel
could never be taken off the list with it. The command takes text instead, with the listed channels offered as
the moderator types ("#ask", "deleted channel 123"); what comes back is a channel's id, or what the moderator
typed without picking ("#ask", "ask", "<#123>", "123").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

import discord

MAX_CHOICES = 25  # Discord shows at most 25 autocomplete choices
CHOICE_NAME_LIMIT = 100  # characters of a choice's name
_BY_ID = re.compile(r"<#(\d+)>|(\d+)|deleted channel (\d+)", re.IGNORECASE)


def deleted_label(channel_id: int) -> str:
    return f"deleted channel {channel_id}"


def listed_names(guild: discord.Guild | None, listed: Sequence[int]) -> dict[int, str]:
    """The listed channels that still exist, by their names (without "#")."""
    if guild is None:
        return {}
    names = {}
    for channel_id in listed:
        channel = guild.get_channel(channel_id)
        if channel is not None:
            names[channel_id] = channel.name
    return names


def choices(listed: Sequence[int], names: Mapping[int, str], typed: str) -> list[tuple[str, str]]:
    """(name, value) for each listed channel matching what the moderator typed so far: "#name", or "deleted channel
    <id>" for one that no longer exists; the value is the channel's id."""
    needle = typed.strip().removeprefix("#").lower()
    shared = {name for name, count in Counter(names[c].lower() for c in listed if c in names).items() if count > 1}
    found = []
    for channel_id in listed:
        name = f"#{names[channel_id]}" if channel_id in names else deleted_label(channel_id)
        if channel_id in names and names[channel_id].lower() in shared:  # two "#ask": the id tells them apart
            name = f"{name[: CHOICE_NAME_LIMIT - 24]} ({channel_id})"
        if needle in name.lower() or needle in str(channel_id):
            found.append((name[:CHOICE_NAME_LIMIT], str(channel_id)))
    return found[:MAX_CHOICES]


def pick(listed: Sequence[int], names: Mapping[int, str], typed: str) -> int | None:
    """The listed channel the moderator named (by id, mention, "deleted channel <id>" or name, such as "2024"), or
    None when it names none of them (or a name two listed channels share)."""
    text = typed.strip()
    if (by_id := _BY_ID.fullmatch(text)) is not None:
        channel_id = int(next(group for group in by_id.groups() if group))
        if channel_id in listed:
            return channel_id
    named = sharing_name(listed, names, text)
    return named[0] if len(named) == 1 else None


def sharing_name(listed: Sequence[int], names: Mapping[int, str], typed: str) -> list[int]:
    """The listed channels whose name is `typed` ("#ask" or "ask", any case): more than one when they share it."""
    wanted = typed.strip().removeprefix("#").lower()
    return [channel_id for channel_id in listed if names.get(channel_id, "").lower() == wanted]
