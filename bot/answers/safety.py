"""Output safety: model output never pings anyone.

Two layers: every message carrying model output is sent with `NO_PINGS` (Discord then notifies
nobody, whatever the text says), and mass mentions are also defused in the text itself, so that
`@everyone` does not even look like a ping to readers or survive a copy-paste.
"""

from __future__ import annotations

import re

import discord

NO_PINGS = discord.AllowedMentions.none()

_ZERO_WIDTH_SPACE = "\u200b"
_MASS_MENTION = re.compile(r"@(everyone|here)")


def defuse_mentions(text: str) -> str:
    """Break @everyone/@here with a zero-width space; user and role mentions are left to NO_PINGS."""
    return _MASS_MENTION.sub(lambda match: f"@{_ZERO_WIDTH_SPACE}{match.group(1)}", text)
