"""Small helpers for how counts read in messages and reports, and how moderators' text settings are read."""

from __future__ import annotations


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """ "1 rating", "2 ratings", "0 ratings" (`plural` where adding an s is wrong: "1 reply", "2 replies")."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def cleared(text: str) -> str | None:
    """A text setting as a moderator gave it (trimmed), or None (cleared) for 'none' in any case."""
    text = text.strip()
    return None if text.lower() == "none" else text
