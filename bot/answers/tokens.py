"""Token estimates and the conversation-history budget.

`count_tokens` is an estimate, not a tokenizer. tiktoken is not used: it downloads its encodings at
runtime (and caches them), and culturebot must run offline for a trial and against endpoints whose
tokenizer is unknown anyway. The estimate is meant to err high, never low, so a budget computed with it
is not overrun by much on any script:

- Latin letters without diacritics (English, Indonesian, ...): about 4 letters per token, per word;
- Latin letters with diacritics (Vietnamese, Spanish, ...), Greek, Cyrillic, Arabic, Hebrew, ...:
  about 2 letters per token, per word (byte-level BPE vocabularies split these more finely);
- Han, kana and Hangul: 1 token per character;
- ASCII punctuation and symbols: 1 token per character; any other character outside ASCII (letters and
  combining marks of Thai, Devanagari, ..., emoji and other symbols): 2, since byte-level vocabularies often
  hold few of a script's multi-byte characters whole;
- digits: 1 token per 3 digits; spaces are free, a run of whitespace containing a line break costs 1.

Measured against cl100k-style tokenizers this over-counts English by roughly a quarter and CJK by up to
a half, which is the safe side for a budget. The estimate never decreases when text is appended.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Only for annotations: prompt.py is expected to import this module, so a runtime import would be circular.
    from bot.answers.prompt import Turn

# Chat formats wrap every message in a few tokens of role and separators (about 4 for OpenAI's).
TURN_OVERHEAD_TOKENS = 4

_CJK = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u2e80-\u2fdf"  # CJK radicals
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3100-\u312f"  # bopomofo
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # katakana extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # half-width katakana
    "\U00020000-\U0003ffff"  # CJK extensions B and beyond
)
# Alternatives, in order: ASCII letter runs, other Latin letter runs (which may include ASCII letters),
# Greek/Cyrillic/Armenian/Hebrew/Arabic letter runs, digits, line-break whitespace, other whitespace,
# CJK characters, anything else one character at a time.
_PIECES = re.compile(
    r"(?P<ascii>[A-Za-z]+(?![\u00c0-\u024f\u1e00-\u1effA-Za-z]))"
    r"|(?P<latin>[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]+)"
    r"|(?P<alphabet>[\u0370-\u03ff\u0400-\u052f\u0530-\u058f\u0590-\u05ff\u0600-\u06ff]+)"
    r"|(?P<digits>[0-9]+)"
    r"|(?P<newline>\s*\n\s*)"
    r"|(?P<space>\s+)"
    rf"|(?P<cjk>[{_CJK}])"
    r"|(?P<other>.)",
    re.DOTALL,
)


def _ceil_div(size: int, per_token: int) -> int:
    return -(-size // per_token)


def count_tokens(text: str) -> int:
    """A conservative, dependency-free estimate of how many tokens `text` is for a BPE tokenizer."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    for match in _PIECES.finditer(text):
        kind = match.lastgroup
        size = match.end() - match.start()
        if kind == "ascii":
            total += _ceil_div(size, 4)
        elif kind in ("latin", "alphabet"):
            total += _ceil_div(size, 2)
        elif kind == "digits":
            total += _ceil_div(size, 3)
        elif kind == "newline":
            total += 1
        elif kind == "space":
            continue
        elif kind == "cjk":
            total += 1
        else:
            total += 1 if match.group().isascii() else 2
    return total


def turn_tokens(turn: Turn) -> int:
    """The estimated cost of one turn in the prompt: its text plus the chat format's per-message overhead."""
    return count_tokens(turn.text) + TURN_OVERHEAD_TOKENS


SHORTENED = " …"  # ends a turn's text cut to fit the budget
MIN_SHORTENED_TOKENS = 16  # below this much room, a shortened turn would say nothing: it is left out


def trim_history(turns: Sequence[Turn], budget_tokens: int) -> list[Turn]:
    """The newest whole turns that fit in `budget_tokens` (as counted by `turn_tokens`), oldest first.

    The oldest turns are dropped first, never part of a turn. A history that would then start with an
    assistant turn loses that turn too: the model should not see its own answer without the question.
    When not even the newest question with what follows it fits whole (one long answer, or a script counted
    at two tokens a character), they are kept shortened (`shorten`) rather than dropped: a follow-up without
    the exchange it follows loses its topic and its cues.
    """
    costs = [turn_tokens(turn) for turn in turns]
    total = sum(costs)
    start = 0
    while start < len(turns) and (total > budget_tokens or turns[start].role == "assistant"):
        total -= costs[start]
        start += 1
    if start < len(turns):
        return list(turns[start:])
    newest = max((i for i, turn in enumerate(turns) if turn.role == "user"), default=None)
    if newest is None:
        return []
    question, *after = turns[newest:]
    room = budget_tokens - TURN_OVERHEAD_TOKENS * (1 + len(after))
    # The question first (usually short), with at most half the room while an answer follows it; the rest is
    # shared by what follows, its beginning kept.
    asked = shorten(question.text, room // 2 if after else room)
    if asked is None:
        return []
    kept = [replace(question, text=asked)]
    room -= count_tokens(asked)
    for turn in after:
        text = shorten(turn.text, room // len(after))
        if text is None:
            return []
        kept.append(replace(turn, text=text))
    return kept


def shorten(text: str, tokens: int) -> str | None:
    """`text` whole if it fits in `tokens`, else its longest beginning that fits with `SHORTENED` after it, cut at
    a space where one is near; None when `tokens` is below `MIN_SHORTENED_TOKENS` (too little to say anything)."""
    if count_tokens(text) <= tokens:
        return text
    if tokens < MIN_SHORTENED_TOKENS:
        return None
    # The estimate never decreases as text is appended, so the longest beginning that fits is found by halving.
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(text[:middle].rstrip() + SHORTENED) <= tokens:
            low = middle
        else:
            high = middle - 1
    space = text.rfind(" ", 0, low + 1)
    end = space if space > low * 0.8 else low
    return text[:end].rstrip() + SHORTENED
