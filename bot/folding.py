"""Latin letters without their diacritics, for matching words as people type them ("bo me" for "bố mẹ")."""

from __future__ import annotations

import re
import unicodedata

_LATIN_MARKS = re.compile(r"[\u0300-\u036f]")
# Letters NFKD does not decompose (lowercase: callers case-fold first).
_UNDECOMPOSED = str.maketrans({"đ": "d", "ø": "o", "ł": "l", "æ": "ae", "œ": "oe", "ħ": "h", "ı": "i", "ŧ": "t"})


def without_diacritics(text: str) -> str:
    """`text` (case-folded) without Latin diacritics, in NFC: "bố mẹ" → "bo me", "đà" → "da". Marks of other
    scripts (Thai, Devanagari, Arabic) stay: they are letters' vowels and tones, not accents."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    return unicodedata.normalize("NFC", _LATIN_MARKS.sub("", decomposed))
