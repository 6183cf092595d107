"""A parsed cultural scope: its metadata, its sections in order, and the text it was read from.

Documents are immutable; `with_section`/`with_summary` return a new, re-validated document.
Equality compares content (metadata, section titles and bodies), not formatting: the line numbers of
sections and `source_text` are provenance, so `parse_scope(doc.to_markdown()) == doc`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictBool, StrictStr, field_validator
from pydantic_core import PydanticCustomError

from bot.folding import without_diacritics
from bot.scopes import toml_text
from bot.scopes.sections import GlossaryEntry, parse_glossary, section_key, strip_comments
from bot.wording import counted

MAX_SCOPE_BYTES = 64 * 1024
MAX_SECTIONS = 30
# Discord's modal text inputs hold at most 4,000 characters: every section fits one edit box.
MAX_SECTION_CHARS = 4000
MAX_SECTION_TITLE_CHARS = 100
MAX_TITLE_CHARS = 100
MIN_SUMMARY_CHARS = 40
MAX_SUMMARY_CHARS = 1000
MAX_TEXT_CHARS = 1000  # community, setting, version_note
MAX_ITEM_CHARS = 500  # one entry of not_covered, authors, sources

# How to write each metadata field: (example line, what it is). Used in hints.
FIELD_GUIDE: dict[str, tuple[str, str]] = {
    "id": ('id = "vietnamese-family-hanoi"', "a short name of lowercase letters, digits and hyphens"),
    "title": (
        'title = "Vietnamese family dynamics (Hanoi households)"',
        "a short title naming the community and the setting",
    ),
    "summary": (
        'summary = """One paragraph: which community, in which settings, for what questions."""',
        "one paragraph of 40 to 1,000 characters saying which community, in which settings, for what questions",
    ),
    "community": (
        'community = "Vietnamese families in Hanoi, and their relatives abroad"',
        "who the scope covers",
    ),
    "setting": ('setting = "family meals, holidays, care of elders"', "where and when the scope applies"),
    "languages": ('languages = ["vi", "en"]', "the BCP-47 tags of the languages members use"),
    "not_covered": (
        'not_covered = ["religious doctrine", "legal or medical advice"]',
        "what the scope does not cover: a scope must state its boundaries",
    ),
    "authors": (
        'authors = ["Lan Nguyen (moderator)"]',
        "the people from or close to the community who wrote or reviewed it",
    ),
    "sources": ('sources = ["Author, Title (Publisher, year)"]', "what the scope draws on"),
    "version_note": ('version_note = "Added a glossary"', "a line on what changed in this version"),
    "template": ("template = true", "true while this is a starting point the community has not yet reviewed"),
}
METADATA_FIELDS: tuple[str, ...] = tuple(FIELD_GUIDE)

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")
# BCP-47 language[-script][-region][-variant...]; extensions and private use are not needed here.
_LANGUAGE_TAG = re.compile(
    r"^[a-zA-Z]{2,3}(-[a-zA-Z]{4})?(-([a-zA-Z]{2}|\d{3}))?(-([a-zA-Z0-9]{5,8}|\d[a-zA-Z0-9]{3}))*$"
)
# Language names people write instead of tags, and the tag to suggest.
_LANGUAGE_NAMES = {
    "english": "en",
    "indonesian": "id",
    "bahasa": "id",
    "bahasa indonesia": "id",
    "javanese": "jv",
    "sundanese": "su",
    "vietnamese": "vi",
    "yoruba": "yo",
    "igbo": "ig",
    "hausa": "ha",
    "pidgin": "pcm",
    "nigerian pidgin": "pcm",
    "japanese": "ja",
    "korean": "ko",
    "chinese": "zh",
    "mandarin": "zh",
    "cantonese": "yue",
    "spanish": "es",
    "portuguese": "pt",
    "french": "fr",
    "german": "de",
    "arabic": "ar",
    "hindi": "hi",
    "tagalog": "tl",
    "filipino": "fil",
    "thai": "th",
    "malay": "ms",
    "swahili": "sw",
    "turkish": "tr",
    "russian": "ru",
}


def _fault(message: str, hint: str) -> PydanticCustomError:
    return PydanticCustomError("scope", "{message}", {"message": message, "hint": hint})


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Newlines normalised, trailing whitespace stripped from every line, blank edges removed.

    Raises a validation error for control characters (other than tab and newline).
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cleaned = "\n".join(line.rstrip() for line in lines).strip()
    control = _CONTROL.search(cleaned)
    if control is not None:
        raise _fault(f"contains the control character U+{ord(control.group()):04X}", "delete it: this is plain text")
    return cleaned


def _empty(name: str) -> PydanticCustomError:
    example, purpose = FIELD_GUIDE[name]
    return _fault("is empty", f"write {purpose}, e.g. {example}")


def _required_text(name: str, limit: int | None = None) -> Any:
    def check(value: str) -> str:
        value = clean_text(value)
        if not value:
            raise _empty(name)
        if limit is not None and len(value) > limit:
            raise _fault(
                f"is {len(value):,} characters long; the limit is {limit:,}",
                "shorten it; put detail in a section of the scope",
            )
        return value

    return AfterValidator(check)


def _check_id(value: str) -> str:
    value = value.strip()
    if _ID.match(value):
        return value
    if not value:
        raise _empty("id")
    # "Gia đình Hà Nội" → "gia-dinh-ha-noi": accents taken off, not the letters that carry them.
    folded = without_diacritics(value.lower())
    suggestion = "-".join(re.sub(r"[^a-z0-9]+", " ", folded).split())[:64].strip("-")
    example = f'"{suggestion}"' if len(suggestion) >= 3 else '"vietnamese-family-hanoi"'
    shown = value if len(value) <= 70 else value[:67] + "..."
    raise _fault(
        f"{shown!r} is not a valid id",
        "use 3 to 64 lowercase letters, digits and hyphens, starting and ending with a letter or digit, "
        f"e.g. {example}",
    )


def _check_title(value: str) -> str:
    if "\n" in value:
        raise _fault("has a line break", "write the title on one line")
    return value


def _check_summary(value: str) -> str:
    if "\n\n" in value:
        raise _fault(
            "has a blank line: a summary is one paragraph",
            "join it into one paragraph and move the rest into a section such as ## Context and history",
        )
    if len(value) < MIN_SUMMARY_CHARS:
        raise _fault(
            f"is only {counted(len(value), 'character')} long; write at least {MIN_SUMMARY_CHARS}",
            "say in a sentence or two which community, in which settings, and for what kind of questions",
        )
    if len(value) > MAX_SUMMARY_CHARS:
        raise _fault(
            f"is {len(value):,} characters long; the limit is {MAX_SUMMARY_CHARS:,}",
            "keep the summary to one short paragraph and move detail into a section",
        )
    return value


def normalise_language_tag(tag: str) -> str:
    """A valid tag with conventional letter case: `id`, `zh-Hant-TW`, `es-419`."""
    parts = tag.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif len(part) == 2 and part.isalpha():
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def _check_language(value: str) -> str:
    value = value.strip()
    if _LANGUAGE_TAG.match(value):
        return normalise_language_tag(value)
    shown = value if len(value) <= 40 else value[:37] + "..."
    named = _LANGUAGE_NAMES.get(value.lower())
    if named is not None:
        hint = f'use the tag "{named}" for {value.strip().title()}'
    elif "_" in value and _LANGUAGE_TAG.match(value.replace("_", "-")):
        hint = f'separate the parts with hyphens: "{normalise_language_tag(value.replace("_", "-"))}"'
    else:
        hint = 'use a tag such as "en" or "id-ID"'
    raise _fault(f"{shown!r} is not a BCP-47 language tag", hint)


def _check_item(value: str) -> str:
    value = clean_text(value)
    if not value:
        raise _fault("has an empty entry", 'delete the empty "" or write the entry')
    if len(value) > MAX_ITEM_CHARS:
        raise _fault(
            f"has an entry {len(value):,} characters long; the limit is {MAX_ITEM_CHARS}",
            "shorten the entry or split it into several",
        )
    return value


Item = Annotated[StrictStr, AfterValidator(_check_item)]


class ScopeMetadata(BaseModel):
    """The TOML header of a scope file. Validation errors carry a `hint` in their context."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[StrictStr, AfterValidator(_check_id)]
    title: Annotated[StrictStr, _required_text("title", MAX_TITLE_CHARS), AfterValidator(_check_title)]
    summary: Annotated[StrictStr, _required_text("summary"), AfterValidator(_check_summary)]
    community: Annotated[StrictStr, _required_text("community", MAX_TEXT_CHARS)]
    setting: Annotated[StrictStr, _required_text("setting", MAX_TEXT_CHARS)]
    languages: tuple[Annotated[StrictStr, AfterValidator(_check_language)], ...]
    not_covered: tuple[Item, ...]
    authors: tuple[Item, ...]
    sources: tuple[Item, ...] = ()
    version_note: Annotated[StrictStr, AfterValidator(clean_text)] | None = None
    template: StrictBool = False

    @field_validator("languages", "not_covered", "authors")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...], info: Any) -> tuple[str, ...]:
        if not value:
            example, purpose = FIELD_GUIDE[info.field_name]
            raise _fault("is an empty list", f"list {purpose}, e.g. {example}")
        return value

    @field_validator("languages")
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for tag in value:
            if tag in seen:
                raise _fault(f'lists "{tag}" twice', "keep one")
            seen.add(tag)
        return value

    @field_validator("version_note")
    @classmethod
    def _empty_note_is_none(cls, value: str | None) -> str | None:
        return value or None


@dataclass(frozen=True, slots=True)
class ScopeSection:
    """A `## ` section: `key` finds it (see `sections.section_key`), `line` is its heading's line."""

    key: str
    title: str
    body: str
    line: int = field(default=0, compare=False)

    @property
    def prose(self) -> str:
        """The body without HTML comments (notes for editors, not for the model)."""
        return strip_comments(self.body).strip()


@dataclass(frozen=True, slots=True)
class ScopeDocument:
    """A valid scope. Store `source_text`: it keeps the author's formatting and header comments."""

    metadata: ScopeMetadata
    sections: tuple[ScopeSection, ...]
    source_text: str = field(compare=False, repr=False)

    def section(self, key: str) -> ScopeSection | None:
        """The section with this key, or whose heading normalises to the same key (`"Glossary"`, `"terms"`)."""
        wanted = section_key(key)
        return next((section for section in self.sections if section.key == wanted), None)

    def part_text(self, section: str | None) -> str:
        """The text of the summary (`section` None) or of a section; empty for a section it does not have."""
        if section is None:
            return self.metadata.summary
        found = self.section(section)
        return found.body if found is not None else ""

    def glossary(self) -> tuple[GlossaryEntry, ...]:
        """The glossary's `- **term**: meaning (when used)` entries; empty without a glossary."""
        section = self.section("glossary")
        if section is None:
            return ()
        entries, _ = parse_glossary(section.body, section.line + 2)
        return tuple(entries)

    def to_markdown(self) -> str:
        """The canonical file text: the header with every field in order, then the sections."""
        return render_header(self.metadata) + render_sections(self.sections)

    def with_section(self, title: str, body: str) -> ScopeDocument:
        """A copy with the section of this heading's key replaced (in place) or appended.

        Raises `ScopeValidationError` when the section or the resulting scope breaks a rule.
        """
        from bot.scopes.editing import edit_section

        return edit_section(self, title, body)

    def without_section(self, key: str) -> ScopeDocument:
        """A copy without the section of this key; raises `KeyError` when there is none."""
        from bot.scopes.editing import remove_section

        return remove_section(self, key)

    def with_summary(self, summary: str) -> ScopeDocument:
        """A copy with a new summary; raises `ScopeValidationError` when the summary breaks a rule."""
        from bot.scopes.editing import edit_summary

        return edit_summary(self, summary)


def render_header(metadata: ScopeMetadata) -> str:
    """The `+++` header block, fields in the documented order, ending with a newline."""
    lines = ["+++"]
    for name in METADATA_FIELDS:
        value = getattr(metadata, name)
        if name == "summary":
            lines.append(f"{name} = {toml_text.multiline_string(value)}")
        elif isinstance(value, bool):
            if value:
                lines.append(f"{name} = true")
        elif isinstance(value, tuple):
            if value or name != "sources":
                lines.append(f"{name} = {toml_text.string_list(value, key_width=len(name) + 3)}")
        elif isinstance(value, str):
            text = toml_text.multiline_string(value) if "\n" in value else toml_text.basic_string(value)
            lines.append(f"{name} = {text}")
    lines.append("+++")
    return "\n".join(lines) + "\n"


def render_sections(sections: tuple[ScopeSection, ...] | list[ScopeSection]) -> str:
    """The sections as `## Title` blocks separated by blank lines, starting with one."""
    return "".join(f"\n## {section.title}\n" + (f"\n{section.body}\n" if section.body else "") for section in sections)
