"""Text that goes into a digest: mention defusing and excerpts.

Everything a digest shows (questions, answers, comments, audit details) passes through `safe_text` when the
digest is computed, so every rendering of it (Markdown, HTML, JSON, a Discord embed) is already safe: no
`@everyone`/`@here` that could ping, and no `<@…>` mention tokens, which would also leak Discord ids into
pseudonymised research files. Channel tags (`<#123>`), which Discord shows as the channel's name and files as
raw markup, read "channel 123", as the digest's by-channel table names channels (`channel_label`).
"""

from __future__ import annotations

import re

from bot.answers.splitting import grapheme_cut

ZERO_WIDTH_SPACE = "\u200b"

_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_MEMBER_MENTION = re.compile(r"<@!?\d+>")
_CHANNEL_MENTION = re.compile(r"<#(\d+)>")
# A tag that an excerpt cut short (the moderation log shortens long setting texts before they are audited): its
# id is partial, so it is named without one.
_CUT_TAG = re.compile(r"<(#|@&|@!?)\d*…")
_CUT_TAG_NAMES = {"#": "channel…", "@&": "role…", "@": "@member…", "@!": "@member…"}
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def strip_mention_ids(text: str) -> str:
    """Replace role and member mention tokens (which carry Discord ids) by neutral words."""
    if "<@" not in text:
        return text
    text = _ROLE_MENTION.sub("@role", text)
    return _MEMBER_MENTION.sub("@member", text)


def channel_label(channel_id: object) -> str:
    """How the digest names a channel: "channel 123" (its by-channel table, and channel tags in its texts)."""
    return f"channel {channel_id}"


def _channel_label(match: re.Match[str]) -> str:
    return channel_label(match[1])


def safe_text(text: str) -> str:
    """Text that cannot ping anyone and holds no mention token, wherever it is pasted; channel tags read
    "channel 123"."""
    text = strip_mention_ids(text)
    if "<#" in text:
        text = _CHANNEL_MENTION.sub(_channel_label, text)
    if "@" in text:
        text = _MASS_MENTION.sub(lambda match: f"@{ZERO_WIDTH_SPACE}{match.group(1)}", text)
        # Anything still shaped like a mention token ("<@abc>", a cut-off "<@12") is broken up too.
        text = text.replace("<@", f"<{ZERO_WIDTH_SPACE}@")
    return text


def audit_text(text: str) -> str:
    """A moderator action's detail (an audit row's) as the digest shows it: `safe_text`, with role tags as "role
    456" (a research-role change names its roles; a role id is the server's, not a member's), members as
    "@member" (never their id), and a tag an excerpt cut short without its partial id."""
    if "<" in text:
        text = _ROLE_MENTION.sub(r"role \1", text)
        if "…" in text:
            text = _CUT_TAG.sub(lambda match: _CUT_TAG_NAMES[match[1]], text)
    return safe_text(text)


def excerpt(text: str, limit: int) -> str:
    """At most `limit` characters of `text` on one line, cut at a word boundary and marked with "…".

    Whitespace runs (newlines included) become single spaces. A text without a usable space (Thai, Chinese,
    one long URL) is cut mid-word. The cut never splits a user-perceived character (a letter from its combining
    marks, an emoji sequence, a flag).
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    flat = _WHITESPACE.sub(" ", text).strip()
    if len(flat) <= limit:
        return flat
    cut = limit - 1  # room for the ellipsis
    space = flat.rfind(" ", 0, cut + 1)
    if space >= limit // 2:
        cut = space
    cut = grapheme_cut(flat, cut)  # not between a letter and its tone marks, nor inside an emoji or a flag
    return flat[:cut].rstrip() + "…"


def safe_excerpt(text: str, limit: int) -> str:
    return excerpt(safe_text(text), limit)
