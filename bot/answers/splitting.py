"""Split long text into Discord-sized messages without breaking words, code blocks or Markdown."""

from __future__ import annotations

import re
from typing import NamedTuple

import regex

DISCORD_MESSAGE_LIMIT = 2000

# A fence line: any indentation (a code block in a list item, nested lists indent by four spaces or a tab: Discord,
# unlike CommonMark, has no indented code blocks and opens a block at any backticks), then 3+ backticks or
# tildes, then the info string (the language).
_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})(\S*)", re.MULTILINE)
# A longer info string is not a language tag worth repeating: reopening the block with it could make the next
# part no shorter than the text it was cut from.
MAX_REOPENED_INFO = 30
# Room kept at the end of a part for a closing fence; grown when the open fence needs more.
_CLOSING_RESERVE = 8


class OpenFence(NamedTuple):
    """A code block still open at the end of some text."""

    indent: str  # spaces or tabs before the fence
    fence: str  # the run of backticks or tildes
    info: str  # the info string after it, e.g. "python"
    start: int  # index of the opening line's first character
    end: int  # index just past the fence and info string

    @property
    def closing(self) -> str:
        """The line that closes the block, indented like its opening line."""
        return self.indent + self.fence

    @property
    def reopening(self) -> str:
        """The opening line that continues the block in the next part (without a long info string)."""
        info = self.info if len(self.info) <= MAX_REOPENED_INFO else ""
        return self.indent + self.fence + info


def split_point(text: str, limit: int) -> int:
    """Index at which to cut `text` so the head fits in `limit` characters.

    Prefers, in order: a paragraph break, a line break, a sentence end, a space. Only a single
    word longer than a third of the limit is cut inside the word.
    """
    if len(text) <= limit:
        return len(text)
    window = text[:limit]
    floor = limit // 3  # never leave a tiny head just to find a nicer break
    # Sentence ends of scripts written without spaces (Chinese, Japanese) or with their own marks (Devanagari,
    # Burmese, Khmer, Tibetan, Ethiopic, Arabic and Urdu).
    for separator in ("\n\n", "\n", ". ", "! ", "? ", "。", "！", "？", "। ", "။", "។", "།", "።", "؟ ", "۔ ", " "):
        index = window.rfind(separator)
        if index >= floor:
            return index + len(separator)
    return grapheme_cut(text, limit)


_MAX_CLUSTER = 32  # characters one user-perceived character is taken to span at most (longer: cut anyway)
# An extended grapheme cluster (Unicode UAX #29), as the `regex` module implements it for its Unicode version:
# combining marks, Indic conjuncts (a consonant, virama, consonant), Hangul syllables in jamo, prepended signs,
# emoji sequences joined by ZWJ, skin tones and flags.
_GRAPHEME = regex.compile(r"\X")


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def grapheme_cut(text: str, index: int) -> int:
    """`index`, moved back so that the cut does not fall inside a user-perceived character (an accent from its
    letter, a Thai vowel sign, a Devanagari conjunct, an emoji sequence, a flag's two letters); `index` itself when
    that would move back more than _MAX_CLUSTER characters or to the start."""
    if not 0 < index < len(text):
        return index
    # Whether there is a boundary before text[index] depends only on what comes before it: the clusters of a
    # window ending there, begun far enough back. Regional indicators pair up from the start of their run, so the
    # window begins before the run.
    start = max(0, index - _MAX_CLUSTER)
    while start > 0 and _regional(text[start - 1]) and _regional(text[start]):
        start -= 1
    window = text[start : index + 1]
    last = 0
    for cluster in _GRAPHEME.finditer(window):
        if cluster.start() >= len(window) - 1:
            return index  # a cluster begins at text[index]: the cut falls between two
        last = cluster.start()
    cut = start + last
    # A cluster begun at the window's start may have begun before it: longer than _MAX_CLUSTER, so cut anyway.
    return cut if cut > 0 and (last > 0 or start == 0) and index - cut <= _MAX_CLUSTER else index


def open_fence_at(text: str) -> OpenFence | None:
    """The code fence still open at the end of `text`, if any."""
    opener: OpenFence | None = None
    for match in _FENCE.finditer(text):
        indent, fence, info = match.group(1), match.group(2), match.group(3)
        if opener is None:
            opener = OpenFence(indent, fence, info, match.start(), match.end())
        elif fence[0] == opener.fence[0] and len(fence) >= len(opener.fence) and not info:
            opener = None  # a closing fence: same character, at least as long, no info string
    return opener


def take_message(text: str, limit: int = DISCORD_MESSAGE_LIMIT) -> tuple[str, str]:
    """Cut the first message off `text`: (head that fits in `limit`, rest).

    A code block open at the cut is closed in the head and reopened in the rest, so both
    messages render as code. Concatenating the heads never loses text other than the added fences
    and whitespace at the cut. The rest is always shorter than `text`, so cutting again and again ends.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, not {limit}")
    if len(text) <= limit:
        return text, ""
    reserve = _CLOSING_RESERVE
    while True:
        cut = split_point(text, max(1, limit - reserve))
        open_fence = open_fence_at(text[:cut])
        if open_fence is None:
            return _plain_cut(text, cut)
        needed = len(open_fence.closing) + 1  # "\n" + closing fence
        if needed <= reserve:
            return _fenced_cut(text, cut, open_fence, limit)
        if needed >= limit:
            return _plain_cut(text, cut)  # no room to close a fence this long
        # A long fence (10+ backticks): cut earlier to make room for it. The reserve only grows, so this ends.
        reserve = needed


def _plain_cut(text: str, cut: int) -> tuple[str, str]:
    # Whitespace at the cut is dropped: a message must not start or end with blank lines.
    return text[:cut].rstrip(), text[cut:].lstrip()


def _fenced_cut(text: str, cut: int, open_fence: OpenFence, limit: int) -> tuple[str, str]:
    """Cut inside a code block: close it in the head, reopen it in the rest."""
    head = text[:cut]
    line_end = head.find("\n", open_fence.end)
    block_is_empty = line_end == -1 or not head[line_end:].strip()
    if block_is_empty and text[: open_fence.start].strip():
        # None of the block's code is in the head: start the block in the next part rather than send it empty.
        return text[: open_fence.start].rstrip(), text[open_fence.start :]
    head = head.rstrip("\n") + "\n" + open_fence.closing
    # Only newlines are stripped: the code's indentation is part of it.
    rest = open_fence.reopening + "\n" + text[cut:].lstrip("\n")
    if len(rest) >= len(text) or len(head) > limit:
        # Reopening would not make progress (e.g. a fence hundreds of backticks long): cut as plain text.
        return _plain_cut(text, cut)
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
