"""Small helpers for how counts read in messages and reports, and how members' and moderators' text is read."""

from __future__ import annotations

import unicodedata

# Letters, marks, numbers, punctuation and symbols: what can be read (not spaces, nor invisible format characters
# such as zero-width spaces, joiners and direction marks).
_VISIBLE = frozenset("LMNPS")


def has_visible_text(text: str) -> bool:
    """Whether `text` holds anything a reader could see: "\u200b\u200f" is as empty as "   "."""
    return any(unicodedata.category(char)[0] in _VISIBLE for char in text)


def without_leading_invisibles(text: str) -> str:
    """`text` without the spaces and invisible format characters (a direction mark, a byte-order mark, a zero-width
    space) that keyboards and copy-paste put before it."""
    start = 0
    while start < len(text) and (text[start].isspace() or unicodedata.category(text[start]) == "Cf"):
        start += 1
    return text[start:]


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """ "1 rating", "2 ratings", "0 ratings" (`plural` where adding an s is wrong: "1 reply", "2 replies")."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def cleared(text: str) -> str | None:
    """A text setting as a moderator gave it (trimmed), or None (cleared) for 'none' in any case."""
    text = text.strip()
    return None if text.lower() == "none" else text
