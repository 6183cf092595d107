"""Output safety: model output never pings anyone, nor shows the prompt's own markup.

Two layers: every message carrying model output is sent with `NO_PINGS` (Discord then notifies
nobody, whatever the text says), and mass mentions are also defused in the text itself, so that
`@everyone` does not even look like a ping to readers or survive a copy-paste. The tags the prompt puts
around member text (bot/answers/prompt.py) are taken out of what is shown: a small model may echo its prompt.
"""

from __future__ import annotations

import re

import discord

NO_PINGS = discord.AllowedMentions.none()

_ZERO_WIDTH_SPACE = "\u200b"
_MASS_MENTION = re.compile(r"@(everyone|here)")


_PROMPT_TAGS = re.compile(r"</?member_message>\n?")  # prompt.UNTRUSTED_OPEN and UNTRUSTED_CLOSE, as written there


def defuse_mentions(text: str) -> str:
    """Break @everyone/@here with a zero-width space; user and role mentions are left to NO_PINGS."""
    return _MASS_MENTION.sub(lambda match: f"@{_ZERO_WIDTH_SPACE}{match.group(1)}", text)


def shown_text(text: str) -> str:
    """Model output as members see it: mass mentions defused, the prompt's member-text tags taken out (the
    recorded answer keeps what the model wrote). Idempotent: tags are taken out until none is left, since taking
    one out can join the text around it into another."""
    while (untagged := _PROMPT_TAGS.sub("", text)) != text:
        text = untagged
    return defuse_mentions(text)
