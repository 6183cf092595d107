"""Section names: the well-known sections of a scope, their aliases, and the glossary entry format.

A section is found by a normalised key of its heading, so `## Forms of address` and
`## FORMS OF ADDRESS, FORMALITY & HIERARCHY` both are the `forms-of-address` section. Headings that
are not well known keep a key made from their own words (`## Food at gatherings` → `food-at-gatherings`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Canonical key → the heading the templates use, in the order a scope usually presents them.
KNOWN_SECTIONS: dict[str, str] = {
    "context-and-history": "Context and history",
    "norms-and-etiquette": "Norms and etiquette",
    "forms-of-address": "Forms of address, formality and hierarchy",
    "values-and-tensions": "Values and tensions",
    "variation": "Variation within the community",
    "sensitive-topics": "Sensitive topics and how to handle them",
    "glossary": "Glossary",
    "example-questions": "Example questions",
}

# Other headings people write for the same sections (compared after normalisation).
_ALIASES: dict[str, tuple[str, ...]] = {
    "context-and-history": ("context", "history", "background", "history and context", "background and history"),
    "norms-and-etiquette": ("norms", "etiquette", "etiquette and norms", "customs", "norms and customs"),
    "forms-of-address": (
        "forms of address",
        "forms of address and formality",
        "forms of address formality and hierarchy",
        "terms of address",
        "address and formality",
        "formality and hierarchy",
        "hierarchy and formality",
        "formality",
        "hierarchy",
    ),
    "values-and-tensions": ("values", "tensions", "values and conflicts", "tensions and values"),
    "variation": (
        "variation within the community",
        "variation",
        "variations",
        "internal variation",
        "diversity within the community",
    ),
    "sensitive-topics": (
        "sensitive topics",
        "sensitive topics and how to handle them",
        "sensitive subjects",
        "sensitivities",
        "taboos",
    ),
    "glossary": ("glossary", "terms", "key terms", "vocabulary", "terminology"),
    "example-questions": (
        "example questions",
        "examples",
        "sample questions",
        "example questions and what a good answer attends to",
    ),
}


def _is_word_character(character: str) -> bool:
    # Combining marks (vowel signs, harakat, tone marks) are part of the letters they sit on: as
    # separators they made different words one key (`भाषा` and `भूषा` were both `भ-ष`).
    return character.isalnum() or unicodedata.category(character).startswith("M")


def _slug(title: str) -> str:
    # Canonically equivalent titles (NFD from macOS, NFC typed) get one key: NFD before casefolding as
    # Unicode's canonical caseless match does, NFC after so keys are short and stable. Alphanumeric
    # characters are kept as they were (`[\W_]+` separated before), so keys without marks do not change.
    text = unicodedata.normalize("NFC", unicodedata.normalize("NFD", title).casefold()).replace("&", " and ")
    spaced = "".join(character if _is_word_character(character) else " " for character in text)
    # A word of marks alone (a stray accent after a space) has no letters to be a key of.
    return "-".join(word for word in spaced.split() if any(character.isalnum() for character in word))


_KEY_BY_SLUG: dict[str, str] = {}
for _key, _title in KNOWN_SECTIONS.items():
    _KEY_BY_SLUG[_slug(_title)] = _key
    _KEY_BY_SLUG[_key] = _key
    for _alias in _ALIASES[_key]:
        _KEY_BY_SLUG[_slug(_alias)] = _key


def section_key(title: str) -> str:
    """The key a heading is found by: a well-known section's canonical key, else the heading as a slug.

    Empty when the heading has no letters or digits.
    """
    slug = _slug(title)
    return _KEY_BY_SLUG.get(slug, slug)


_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)


def strip_comments(text: str) -> str:
    """`text` without HTML comments (`<!-- … -->`) and the blank lines they leave at its edges."""
    return _COMMENT.sub("", text).strip("\n")


class _Blocks:
    """Tracks fenced code blocks and HTML comment blocks, inside which `##` lines are not headings."""

    def __init__(self) -> None:
        self.fence: str | None = None
        self.in_comment = False
        self.opened_at = 0

    def is_plain(self, index: int, line: str) -> bool:
        """Whether `line` (at `index`) is outside any block; updates the state."""
        if self.in_comment:
            self.in_comment = "-->" not in line
            return False
        fence = _FENCE.match(line)
        if self.fence is not None:
            closing = fence is not None and fence[1][0] == self.fence[0] and len(fence[1]) >= len(self.fence)
            if closing and fence is not None and not line[fence.end() :].strip():
                self.fence = None
            return False
        if fence is not None:
            self.fence, self.opened_at = fence[1], index
            return False
        stripped = line.lstrip(" ")
        if len(line) - len(stripped) <= 3 and stripped.startswith("<!--"):
            self.in_comment, self.opened_at = "-->" not in stripped[4:], index
            return False
        return True

    @property
    def unclosed(self) -> str | None:
        if self.fence is not None:
            return f"code block ({self.fence})"
        return "HTML comment (<!--)" if self.in_comment else None


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# Any Unicode whitespace after ##: a no-break space (typed by Option-space on a Mac, or pasted) or an
# ideographic space must not turn a heading into text of the section above.
_HEADING = re.compile(r"^ {0,3}##(?:\s+(?P<title>.*))?$")
_CLOSING_HASHES = re.compile(r"(?:^|\s+)#+$")
_UNSPACED_HEADING = re.compile(r"^ {0,3}##[^#\s]")
# `# Title`: a level-1 heading is not a section, so after the first section it would silently become text
# of the one above (and render as a big heading inside it). `#Title` is not a heading in Markdown but text,
# such as a hashtag, and is left alone, as is a lone `#`.
_LEVEL_ONE_HEADING = re.compile(r"^ {0,3}#\s+\S")
# `＃＃ 敬語`: the full-width number sign (U+FF03), which Chinese and Japanese input methods type, is no Markdown
# heading mark, so the line would silently become text of the section above.
_FULL_WIDTH_HEADING = re.compile(r"^ {0,3}(?=[#＃]*＃)[#＃]{2,}")


@dataclass(frozen=True, slots=True)
class MarkdownScan:
    """Where the `## ` headings of some lines are (0-based indexes), and structural slips."""

    headings: list[tuple[int, str]]
    unspaced_headings: list[int]
    unclosed: tuple[int, str] | None
    level_one_headings: list[int] = field(default_factory=list)
    full_width_headings: list[int] = field(default_factory=list)  # `＃＃ Title`: meant as a heading, surely


def scan_markdown(lines: list[str]) -> MarkdownScan:
    """Find the level-2 headings outside code blocks and HTML comments; also `##Title` lines without
    a space (not headings in Markdown, but surely meant as one), level-1 `# Title` lines, and a block
    left open at the end."""
    blocks = _Blocks()
    headings: list[tuple[int, str]] = []
    unspaced: list[int] = []
    level_one: list[int] = []
    full_width: list[int] = []
    for index, line in enumerate(lines):
        if not blocks.is_plain(index, line):
            continue
        heading = _HEADING.match(line)
        if heading is not None:
            headings.append((index, _CLOSING_HASHES.sub("", (heading["title"] or "").strip()).strip()))
        elif _UNSPACED_HEADING.match(line):
            unspaced.append(index)
        elif _LEVEL_ONE_HEADING.match(line):
            level_one.append(index)
        elif _FULL_WIDTH_HEADING.match(line):
            full_width.append(index)
    unclosed = None if blocks.unclosed is None else (blocks.opened_at, blocks.unclosed)
    return MarkdownScan(headings, unspaced, unclosed, level_one, full_width)


@dataclass(frozen=True, slots=True)
class GlossaryEntry:
    """One glossary item, written `- **term**: meaning (when used)`; `when_used` is the final parenthesis."""

    term: str
    meaning: str
    when_used: str | None
    line: int


GLOSSARY_FORMAT = "- **term**: meaning (when it is used)"
_LIST_ITEM = re.compile(r"^[-*+][ \t]+")
_ENTRY = re.compile(r"^[-*+][ \t]+\*\*(?P<term>[^*\n]+?):?\*\*[ \t]*:?[ \t]*(?P<meaning>.*)$")
_WHEN = re.compile(r"^(?P<meaning>.*?)[ \t]*\((?P<when>[^()]*)\)$")


def parse_glossary(body: str, first_line: int = 1) -> tuple[list[GlossaryEntry], list[tuple[int, str]]]:
    """The glossary entries in a section body, and the (line, text) of top-level list items that are
    not in the `- **term**: meaning` form. Indented lines and prose between items are left alone.
    `first_line` is the file line of the body's first line.
    """
    entries: list[GlossaryEntry] = []
    malformed: list[tuple[int, str]] = []
    blocks = _Blocks()
    for index, line in enumerate(body.split("\n")):
        if not blocks.is_plain(index, line) or not _LIST_ITEM.match(line):
            continue
        match = _ENTRY.match(line)
        if match is None or not match["meaning"].strip():
            malformed.append((first_line + index, line))
            continue
        meaning, when = match["meaning"].strip(), None
        when_match = _WHEN.match(meaning)
        if when_match is not None and when_match["meaning"]:
            meaning, when = when_match["meaning"], when_match["when"].strip() or None
        entries.append(GlossaryEntry(match["term"].strip(), meaning, when, first_line + index))
    return entries, malformed
