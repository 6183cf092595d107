"""Token estimates and the conversation-history budget.

`count_tokens` is an estimate, not a tokenizer. tiktoken is not used: it downloads its encodings at
runtime (and caches them), and culturebot must run offline for a trial and against endpoints whose
tokenizer is unknown anyway. The estimate is meant to err high, never low, so a budget computed with it
is not overrun by much on any script:

- Latin letters without diacritics (English, Indonesian, ...): about 4 letters per token, per word;
- Latin letters with diacritics (Vietnamese, Spanish, ...), Greek, Cyrillic, Arabic, Hebrew, ...:
  about 2 letters per token, per word (byte-level BPE vocabularies split these more finely);
- Han, kana and Hangul: 1 token per character;
- any other letter, combining mark (Thai, Devanagari, ...), punctuation or symbol: 1 token per character,
  emoji and other symbols outside ASCII 2;
- digits: 1 token per 3 digits; spaces are free, a run of whitespace containing a line break costs 1.

Measured against cl100k-style tokenizers this over-counts English by roughly a quarter and CJK by up to
a half, which is the safe side for a budget. The estimate never decreases when text is appended.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
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


def trim_history(turns: Sequence[Turn], budget_tokens: int) -> list[Turn]:
    """The newest whole turns that fit in `budget_tokens` (as counted by `turn_tokens`), oldest first.

    The oldest turns are dropped first, never part of a turn. A history that would then start with an
    assistant turn loses that turn too: the model should not see its own answer without the question.
    """
    costs = [turn_tokens(turn) for turn in turns]
    total = sum(costs)
    start = 0
    while start < len(turns) and (total > budget_tokens or turns[start].role == "assistant"):
        total -= costs[start]
        start += 1
    return list(turns[start:])
