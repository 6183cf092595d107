"""Split long text into Discord-sized messages without breaking words, code blocks or Markdown."""

from __future__ import annotations

import re

DISCORD_MESSAGE_LIMIT = 2000

_FENCE = re.compile(r"^(`{3,}|~{3,})(\S*)", re.MULTILINE)


def split_point(text: str, limit: int) -> int:
    """Index at which to cut `text` so the head fits in `limit` characters.

    Prefers, in order: a paragraph break, a line break, a sentence end, a space. Only a single
    word longer than a third of the limit is cut inside the word.
    """
    if len(text) <= limit:
        return len(text)
    window = text[:limit]
    floor = limit // 3  # never leave a tiny head just to find a nicer break
    for separator in ("\n\n", "\n", ". ", "! ", "? ", " "):
        index = window.rfind(separator)
        if index >= floor:
            return index + len(separator)
    return limit


def open_fence_at(text: str) -> tuple[str, str] | None:
    """The code fence still open at the end of `text`: (fence, whole opening line start), if any."""
    opener: tuple[str, str] | None = None
    for match in _FENCE.finditer(text):
        fence, info = match.group(1), match.group(2)
        if opener is None:
            opener = (fence, match.group(0))
        elif fence[0] == opener[0][0] and len(fence) >= len(opener[0]) and not info:
            opener = None  # a closing fence: same character, at least as long, no info string
    return opener


def take_message(text: str, limit: int = DISCORD_MESSAGE_LIMIT) -> tuple[str, str]:
    """Cut the first message off `text`: (head that fits in `limit`, rest).

    A code block open at the cut is closed in the head and reopened in the rest, so both
    messages render as code. Concatenating the heads never loses text other than the added fences
    and whitespace at the cut.
    """
    if len(text) <= limit:
        return text, ""
    reserve = 8  # room for a closing fence should the cut fall inside a code block
    cut = split_point(text, limit - reserve)
    head, rest = text[:cut], text[cut:]
    open_fence = open_fence_at(head)
    if open_fence is not None:
        fence, opening = open_fence
        head = head.rstrip("\n") + "\n" + fence
        rest = opening + "\n" + rest.lstrip("\n")
    else:
        head = head.rstrip()
        rest = rest.lstrip()
    return head, rest


def split_message(text: str, limit: int = DISCORD_MESSAGE_LIMIT) -> list[str]:
    """All the messages `text` needs, each at most `limit` characters."""
    parts = []
    rest = text
    while rest:
        head, rest = take_message(rest, limit)
        if head:
            parts.append(head)
    return parts
