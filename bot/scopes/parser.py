"""Reading a scope file: bytes → text → TOML header + `## ` sections → a validated `ScopeDocument`.

Every problem is collected, not only the first: a file with a bad language tag, an unknown key and a
section that is too long hears about all three. Only faults that make the rest unreadable stop early
(too large, empty, binary, UTF-16).

Text before the first `## ` heading (other than blank lines) is a problem rather than an implicit
"introduction": everything in a scope lives in a named section so it can be shown, edited in one
Discord modal, and versioned on its own; the one-paragraph overview belongs in the `summary` field.
HTML comments are kept as part of section bodies (`ScopeSection.prose` leaves them out).
"""

from __future__ import annotations

import bisect
import difflib
import json
import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.scopes.document import (
    FIELD_GUIDE,
    MAX_SCOPE_BYTES,
    MAX_SECTION_CHARS,
    MAX_SECTION_TITLE_CHARS,
    MAX_SECTIONS,
    METADATA_FIELDS,
    ScopeDocument,
    ScopeMetadata,
    ScopeSection,
)
from bot.scopes.problems import ScopeProblem, ScopeValidationError
from bot.scopes.sections import (
    GLOSSARY_FORMAT,
    KNOWN_SECTIONS,
    MarkdownScan,
    parse_glossary,
    scan_markdown,
    section_key,
    strip_comments,
)

__all__ = [
    "ScopeProblem",
    "ScopeValidationError",
    "normalise_text",
    "parse_scope",
    "read_scope_file",
    "section_problems",
    "validate_scope",
]

HEADER_FENCE = "+++"
_SEE_BLANK = "see scopes/_blank.md for a commented example"
_RESAVE_UTF8 = "re-save the file as UTF-8 (in most editors: Save As, then choose the UTF-8 encoding)"
_MAX_GLOSSARY_PROBLEMS = 5
BOM = "\ufeff"
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A header line that sets a key: bare, quoted ("my key") or dotted (languages.extra, whose top-level key counts); or
# one that opens a table ([extra], [[list]]), named by its first key.
_KEY = r"""(?:"(?P<double>[^"\n]*)"|'(?P<single>[^'\n]*)'|(?P<bare>[A-Za-z0-9_-]+))"""
_KEY_LINE = re.compile(rf"^\s*{_KEY}\s*[=.]")
_TABLE_LINE = re.compile(rf"^\s*\[\[?\s*{_KEY}")
_TOML_POSITION = re.compile(r"\s*\((?:at line (?P<line>\d+), column (?P<column>\d+)|at end of document)\)$")
# Keys people write by habit, and the field they mean (close spellings are found by difflib).
_KEY_SYNONYMS = {
    "name": "title",
    "description": "summary",
    "abstract": "summary",
    "language": "languages",
    "lang": "languages",
    "locale": "languages",
    "author": "authors",
    "contributors": "authors",
    "source": "sources",
    "references": "sources",
    "excludes": "not_covered",
    "exclusions": "not_covered",
    "out_of_scope": "not_covered",
    "boundaries": "not_covered",
    "version": "version_note",
    "changes": "version_note",
    "changelog": "version_note",
    "slug": "id",
    "audience": "community",
    "group": "community",
    "context": "setting",
    "settings": "setting",
    "is_template": "template",
    "draft": "template",
}


def parse_scope(data: bytes | str, *, source: str = "<scope>", stored: bool = False) -> ScopeDocument:
    """The document in `data`; raises `ScopeValidationError` listing every problem found.

    `stored`: a version already accepted and stored, read again to answer from or to make current. Rules that
    only refuse what used to be accepted, without changing how the file is read, are not applied to it (a
    level-1 `# ` line was, and is still, read as text of the section above): a server's scope does not stop
    working when such a rule is added. New uploads and edits are held to every rule.
    """
    result = _parse(data, source, stored=stored)
    if result.problems or result.document is None:
        raise ScopeValidationError(result.problems)
    return result.document


def validate_scope(data: bytes | str, *, source: str) -> list[ScopeProblem]:
    """Every problem in `data`, in file order; `[]` when it is a valid scope."""
    return _parse(data, source).problems


def read_scope_file(path: Path) -> bytes:
    """The bytes of a scope file, refusing (without reading it) one larger than `MAX_SCOPE_BYTES`.

    Raises `ScopeValidationError` for a file that is too large and `OSError` when it cannot be read.
    """
    size = path.stat().st_size
    if size > MAX_SCOPE_BYTES:
        raise ScopeValidationError([_too_large(str(path), size)])
    with path.open("rb") as handle:
        return handle.read(MAX_SCOPE_BYTES + 1)  # the file may have grown since stat()


def normalise_text(text: str) -> str:
    """`\\r\\n` and `\\r` as `\\n`, no trailing whitespace on any line, no blank lines at the end, and no
    byte order mark (U+FEFF) at the start of a line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # Only a file's very first BOM is dropped when decoding; a second one, one after a blank line or
    # one left by joining files is invisible, and would hide the +++ of the header or a ## heading.
    return "\n".join(line.lstrip(BOM).rstrip() for line in lines).rstrip("\n")


def section_problems(
    title: str, body: str, *, line: int | None, source: str, body_line: int | None = None
) -> list[ScopeProblem]:
    """What is wrong with one section on its own (heading, length, glossary entries).

    `line` is the heading's file line and `body_line` the body's first (None outside a file).
    """
    problems: list[ScopeProblem] = []
    name = f"section {title!r}" if title else "section"

    def add(message: str, hint: str, at: int | None = line) -> None:
        problems.append(ScopeProblem(source, at, name, message, hint))

    if not title:
        add("the heading has no title", "write a title after ##, e.g. ## Norms and etiquette")
    elif not section_key(title):
        add("the title has no letters or digits", "write a title in words, e.g. ## Norms and etiquette")
    if len(title) > MAX_SECTION_TITLE_CHARS:
        add(
            f"the title is {len(title):,} characters long; the limit is {MAX_SECTION_TITLE_CHARS}",
            "shorten the heading and put the detail in the section's text",
        )
    if len(body) > MAX_SECTION_CHARS:
        add(
            f"is {len(body):,} characters long; the limit is {MAX_SECTION_CHARS:,}",
            f"shorten it or split it into two ## sections: Discord's edit form holds at most "
            f"{MAX_SECTION_CHARS:,} characters, so every section must fit in one",
        )
    if section_key(title) == "glossary":
        _, malformed = parse_glossary(body, body_line or 1)
        for number, (at, text) in enumerate(malformed[:_MAX_GLOSSARY_PROBLEMS], start=1):
            shown = text if len(text) <= 50 else text[:47] + "..."
            rest = len(malformed) - _MAX_GLOSSARY_PROBLEMS
            more = f" ({rest} more entries are not either)" if number == _MAX_GLOSSARY_PROBLEMS and rest > 0 else ""
            add(
                f"the entry {shown!r} is not in the glossary form{more}",
                f"write each entry as {GLOSSARY_FORMAT}",
                at if body_line is not None else None,
            )
    return problems


@dataclass
class _Result:
    problems: list[ScopeProblem] = field(default_factory=list)
    document: ScopeDocument | None = None


def _parse(data: bytes | str, source: str, *, stored: bool = False) -> _Result:
    result = _Result()
    text = _decode(data, source, result.problems)
    if text is None:
        return result
    text = normalise_text(text)
    lines = text.split("\n")
    metadata, body_start = _read_header(lines, source, result.problems)
    sections = _read_sections(lines, body_start, source, result.problems, stored=stored)
    result.problems.sort(key=lambda problem: problem.line or 0)
    if not result.problems and metadata is not None:
        result.document = ScopeDocument(metadata, tuple(sections), text + "\n")
    return result


# --- bytes to text ---------------------------------------------------------------------------------


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f} MB ({count:,} bytes)"
    return f"{count / 1024:.1f} KB ({count:,} bytes)"


def _too_large(source: str, size: int) -> ScopeProblem:
    return ScopeProblem(
        source,
        None,
        None,
        f"the file is {_size(size)}; a scope can be at most {MAX_SCOPE_BYTES // 1024} KB",
        f"shorten it: a scope is context for every answer, so keep it to what matters most "
        f"(at most {MAX_SECTIONS} sections of {MAX_SECTION_CHARS:,} characters)",
    )


_BINARY_KINDS = [
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a zip archive or a Word/OpenDocument file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"{\\rtf", "an RTF document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "a program (ELF)"),
    (b"\x1f\x8b", "a gzip archive"),
]


def _binary_problem(source: str, data: bytes) -> ScopeProblem | None:
    kind = next((name for magic, name in _BINARY_KINDS if data.startswith(magic)), None)
    if kind is None and b"\x00" not in data:
        return None
    return ScopeProblem(
        source,
        None,
        None,
        "this looks like a binary file, not a Markdown scope" + (f" (it seems to be {kind})" if kind else ""),
        "upload the scope as a plain-text .md file: a TOML header between +++ lines, then ## sections; " + _SEE_BLANK,
    )


def _signature_problem(source: str, data: bytes) -> ScopeProblem | None:
    """A file that starts like an image, a PDF, an archive...: named as such, whatever its bytes look like."""
    if not any(data.startswith(magic) for magic, _ in _BINARY_KINDS):
        return None
    return _binary_problem(source, data)


def _utf16_problem(source: str, data: bytes) -> ScopeProblem | None:
    head = data[:200]
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        encoding = "UTF-32"
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")) or _reads_as_utf16(head):
        encoding = "UTF-16"
    else:
        return None
    return ScopeProblem(source, None, None, f"the file is encoded as {encoding}, not UTF-8", _RESAVE_UTF8)


def _reads_as_utf16(head: bytes) -> bool:
    """Whether `head` (without a byte-order mark) is UTF-16 text: every other byte zero, as in Latin-script UTF-16,
    and what it decodes to mostly printable. Zero bytes alone also fill a database or a program."""
    if len(head) < 8:
        return False
    for encoding, zeros in (("utf-16-le", head[1::2]), ("utf-16-be", head[0::2])):
        if zeros.count(0) > len(zeros) * 2 // 3:
            text = head[: len(head) // 2 * 2].decode(encoding, "replace")
            readable = sum(char.isprintable() or char in "\r\n\t" for char in text)
            return readable >= 0.9 * len(text)
    return False


def _decode(data: bytes | str, source: str, problems: list[ScopeProblem]) -> str | None:
    """The text of `data`, or None after recording a problem that makes it unreadable."""
    if isinstance(data, str):
        # Cheap bound first: every character is at least one byte.
        if len(data) > MAX_SCOPE_BYTES or len(data.encode("utf-8", "surrogatepass")) > MAX_SCOPE_BYTES:
            problems.append(_too_large(source, len(data.encode("utf-8", "surrogatepass"))))
            return None
        raw = data.encode("utf-8", "surrogatepass")
    else:
        if len(data) > MAX_SCOPE_BYTES:
            problems.append(_too_large(source, len(data)))
            return None
        raw = bytes(data)
    if not raw.strip():
        problems.append(_empty(source))
        return None
    # A known binary signature first: an image's zero bytes also look like UTF-16 text.
    stop = _signature_problem(source, raw) or _utf16_problem(source, raw) or _binary_problem(source, raw)
    if stop is not None:
        problems.append(stop)
        return None
    offset = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = raw[offset:].decode("utf-8")
    except UnicodeDecodeError as error:
        position = offset + error.start
        line = raw[:position].count(b"\n") + 1
        bad = raw[position : offset + error.end]
        problems.append(
            ScopeProblem(
                source,
                line,
                None,
                f"the file is not valid UTF-8: byte {bad[:1].hex(' ').upper()} at byte offset {position} "
                f"(line {line}) cannot be decoded",
                _RESAVE_UTF8 + "; the file may be in Latin-1 or Windows-1252",
            )
        )
        text = raw[offset:].decode("utf-8", "replace")
    if not text.replace(BOM, "").strip():  # byte order marks alone are nothing either
        problems.append(_empty(source))
        return None
    return text


def _empty(source: str) -> ScopeProblem:
    return ScopeProblem(
        source, None, None, "the file is empty", "start from a template (/scope templates) or from scopes/_blank.md"
    )


# --- the TOML header -------------------------------------------------------------------------------


def _read_header(lines: list[str], source: str, problems: list[ScopeProblem]) -> tuple[ScopeMetadata | None, int]:
    """The metadata (None when missing or invalid) and the index of the first line after the header."""
    start = next(index for index, line in enumerate(lines) if line.strip())
    opening = lines[start].strip()
    if opening == "---":
        yaml_end = next((index for index in range(start + 1, len(lines)) if lines[index].strip() == "---"), start)
        problems.append(
            ScopeProblem(
                source,
                start + 1,
                None,
                "the header starts with --- (YAML front matter); scope headers are TOML between +++ lines",
                'replace both --- lines with +++ and write each field as key = "value"; ' + _SEE_BLANK,
            )
        )
        return None, yaml_end + 1
    if opening != HEADER_FENCE:
        problems.append(
            ScopeProblem(
                source,
                start + 1,
                None,
                "the file does not start with a metadata header",
                "begin the file with a +++ line, the metadata (id, title, summary, community, setting, "
                "languages, not_covered, authors), then a closing +++ line; " + _SEE_BLANK,
            )
        )
        return None, start
    found = next((index for index in range(start + 1, len(lines)) if lines[index].strip() == HEADER_FENCE), None)
    if found is not None:
        close = found
    else:
        problems.append(
            ScopeProblem(
                source,
                start + 1,
                None,
                "the metadata header opened here with +++ is never closed",
                "add a line with only +++ after the last metadata field, before the first ## section",
            )
        )
        # Read on as if the header ended where the sections begin, to report what else is wrong.
        headings = scan_markdown(lines[start + 1 :]).headings
        end = start + 1 + headings[0][0] if headings else len(lines)
        metadata = _read_metadata(lines[start + 1 : end], start + 2, end, source, problems)
        return metadata, end
    metadata = _read_metadata(lines[start + 1 : close], start + 2, close + 1, source, problems)
    return metadata, close + 1


def _read_metadata(
    header: list[str], first_line: int, closing_line: int, source: str, problems: list[ScopeProblem]
) -> ScopeMetadata | None:
    """Validate the header lines; `first_line` is the file line of `header[0]`."""
    try:
        values = tomllib.loads("\n".join(header))
    except tomllib.TOMLDecodeError as error:
        problems.append(_toml_problem(error, header, first_line, closing_line, source))
        return None
    except RecursionError:  # tomllib recurses per level of nesting
        problems.append(
            ScopeProblem(
                source,
                first_line,
                None,
                "the header nests lists or tables too deeply to read",
                'the header needs only simple values and lists of text, e.g. languages = ["id", "en"]',
            )
        )
        return None
    key_lines = _key_lines(header, first_line)
    try:
        return ScopeMetadata.model_validate(values)
    except ValidationError as error:
        details = error.errors(include_url=False)
        # A misspelt key is also a missing one; its did-you-mean already says so.
        guessed = {_did_you_mean(str(d["loc"][0])) for d in details if d["type"] == "extra_forbidden" and d["loc"]}
        for detail in details:
            if detail["type"] == "missing" and detail["loc"] and detail["loc"][0] in guessed:
                continue
            problems.append(_metadata_problem(detail, header, first_line, key_lines, closing_line, source))
        return None


def _key_lines(header: list[str], first_line: int) -> dict[str, int]:
    """Each top-level key's first line (a key set, dotted or quoted, or a table opened)."""
    found: dict[str, int] = {}
    for index, line in enumerate(header):
        match = _KEY_LINE.match(line) or _TABLE_LINE.match(line)
        if match is not None:
            found.setdefault(_key_name(match), first_line + index)
    return found


def _key_name(match: re.Match[str]) -> str:
    """The key a `_KEY_LINE` or `_TABLE_LINE` match names (unquoted)."""
    return next(name for name in (match["double"], match["single"], match["bare"]) if name is not None)


def _statement_starts(header: list[str]) -> list[int]:
    """Indexes of the lines that start a key or a table, skipping lines inside multi-line strings."""
    starts: list[int] = []
    open_quote: str | None = None
    for index, line in enumerate(header):
        if open_quote is None and (_KEY_LINE.match(line) or _TABLE_LINE.match(line)):
            starts.append(index)
        for quote in ('"""', "'''"):
            if (open_quote is None or open_quote == quote) and line.count(quote) % 2 == 1:
                open_quote = None if open_quote else quote
    return starts


def _prefix_fails(header: list[str], end: int) -> bool:
    try:
        tomllib.loads("\n".join(header[:end]))
    except tomllib.TOMLDecodeError:
        return True
    return False


def _locate_toml_error(header: list[str]) -> int | None:
    """For errors tomllib reports 'at end of document': the index of the statement at fault.

    The fault is in the first statement whose inclusion makes the header fail to parse; found by
    bisection, so a header of thousands of statements is parsed only a dozen times.
    """
    starts = _statement_starts(header)
    ends = [*starts[1:], len(header)]
    if not starts or not _prefix_fails(header, ends[-1]):
        return None
    low, high = 0, len(starts) - 1
    while low < high:
        middle = (low + high) // 2
        if _prefix_fails(header, ends[middle]):
            high = middle
        else:
            low = middle + 1
    return starts[low]


_TYPOGRAPHIC_QUOTES = re.compile("=\\s*\\[?\\s*[“”‘’„‚«»「『]")


def _toml_problem(
    error: tomllib.TOMLDecodeError, header: list[str], first_line: int, closing_line: int, source: str
) -> ScopeProblem:
    text = str(error)
    position = _TOML_POSITION.search(text)
    message = text[: position.start()] if position else text
    line: int | None = closing_line
    unclosed_list = "unclosed array" in message.lower()
    if position is not None and position["line"] and not unclosed_list:
        line = first_line + int(position["line"]) - 1
        message += f" (column {position['column']})"
    else:
        # A list's error is found where tomllib gives up, which is after the list: on the next key's line when it
        # is not closed, past the entries when a comma is missing. The statement at fault is the list's own.
        index = _locate_toml_error(header)
        if index is not None:
            line = first_line + index
    key = None
    at_fault = ""  # the header line at fault
    if line is not None and 0 <= line - first_line < len(header):
        at_fault = header[line - first_line]
        match = _KEY_LINE.match(at_fault) or _TABLE_LINE.match(at_fault)
        key = _key_name(match) if match else None
    lowered = message.lower()
    if "overwrite" in lowered or "twice" in lowered:
        message = "a key is set more than once" if "overwrite" in lowered else message
        hint = "each key may appear only once in the header: delete or merge the repeated one"
    elif "illegal character '\\n'" in lowered:
        message = "the text is not closed with a quote before the end of the line"
        hint = 'close it with " on the same line, or use """ ... """ for text over several lines'
    elif "unterminated string" in lowered:
        hint = 'close the text with the same quote that opens it (""" for text over several lines)'
    elif unclosed_list:
        message = "a list is not closed, or two of its entries have no comma between them"
        hint = 'put a comma between entries and close the list with ]: e.g. ["a", "b"]'
    elif "invalid value" in lowered and _TYPOGRAPHIC_QUOTES.search(at_fault):
        # A word processor, or a phone's keyboard, typed them: the value looks quoted to the writer.
        message = "the text is in typographic quotes (“…” or ‘…’), which TOML does not read as quotes"
        hint = 'use straight double quotes: key = "like this"'
    elif "invalid value" in lowered:
        hint = 'put text in double quotes ("like this"), lists in brackets (["a", "b"]), and true/false bare'
    else:
        hint = 'each line of the header is key = "text", key = ["a", "b"] or key = true'
    return ScopeProblem(source, line, key, f"the header is not valid TOML: {message}", hint)


def _describe_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def _did_you_mean(key: str) -> str | None:
    normalised = key.lower().replace("-", "_").replace(" ", "_")
    if normalised in METADATA_FIELDS:
        return normalised
    if normalised in _KEY_SYNONYMS:
        return _KEY_SYNONYMS[normalised]
    matches = difflib.get_close_matches(normalised, METADATA_FIELDS, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _value_line(header: list[str], first_line: int, key_line: int | None, value: Any) -> int | None:
    """The line of one list entry, found by its quoted text between its key and the next key."""
    if key_line is None or not isinstance(value, str):
        return key_line
    needles = (json.dumps(value, ensure_ascii=False), f"'{value}'")
    for index in range(key_line - first_line, len(header)):
        if index > key_line - first_line and _KEY_LINE.match(header[index]):
            break
        if any(needle in header[index] for needle in needles):
            return first_line + index
    return key_line


def _metadata_problem(
    detail: Any,
    header: list[str],
    first_line: int,
    key_lines: dict[str, int],
    closing_line: int,
    source: str,
) -> ScopeProblem:
    location = detail["loc"]
    name = str(location[0]) if location else None
    kind = detail["type"]
    value = detail.get("input")
    line = key_lines.get(name) if name else None
    example, purpose = FIELD_GUIDE.get(name or "", ("", ""))
    if kind == "extra_forbidden":
        guess = _did_you_mean(name or "")
        known = ", ".join(METADATA_FIELDS)
        hint = f'did you mean "{guess}"? Rename the key' if guess else "delete it"
        return ScopeProblem(source, line, name, "unknown key", f"{hint}; the keys are {known}")
    if kind == "missing":
        return ScopeProblem(source, closing_line, name, "is missing", f"add it to the header: {example} ({purpose})")
    if kind == "scope":
        if len(location) > 1:
            line = _value_line(header, first_line, line, value)
        return ScopeProblem(source, line, name, detail["ctx"]["message"], detail["ctx"]["hint"])
    if kind in {"tuple_type", "list_type"}:
        if isinstance(value, str):
            return ScopeProblem(
                source,
                line,
                name,
                "must be a list, not a single text",
                f"put it in brackets: {name} = [{json.dumps(value, ensure_ascii=False)}]",
            )
        return ScopeProblem(source, line, name, f"must be a list, not {_describe_type(value)}", f"write {example}")
    if kind == "string_type":
        if len(location) > 1:
            line = _value_line(header, first_line, line, value)
            return ScopeProblem(
                source,
                line,
                name,
                f"every entry must be text, not {_describe_type(value)}",
                f'put each entry in double quotes: {name} = ["…", "…"]',
            )
        return ScopeProblem(
            source, line, name, f"must be text, not {_describe_type(value)}", f"put it in double quotes: {example}"
        )
    if kind == "bool_type":
        return ScopeProblem(
            source,
            line,
            name,
            f"must be true or false, not {_describe_type(value)}",
            "write true or false, without quotes",
        )
    return ScopeProblem(source, line, name, str(detail["msg"]), f"write {example}" if example else None)


# --- the sections ----------------------------------------------------------------------------------


def _read_sections(
    lines: list[str], start: int, source: str, problems: list[ScopeProblem], *, stored: bool = False
) -> list[ScopeSection]:
    body_lines = lines[start:]
    scan = scan_markdown(body_lines)
    _check_control_characters(body_lines, start + 1, source, problems)
    first_heading = scan.headings[0][0] if scan.headings else len(body_lines)
    _check_preamble(body_lines[:first_heading], start + 1, bool(scan.headings), source, problems)
    for index in scan.unspaced_headings:
        problems.append(
            ScopeProblem(
                source,
                start + index + 1,
                None,
                f"{body_lines[index].strip()[:40]!r} looks like a heading but has no space after ##",
                "write ## followed by a space, e.g. ## Glossary",
            )
        )
    if not stored:
        _check_level_one_headings(body_lines, scan, start + 1, source, problems)
        for index in scan.full_width_headings:
            problems.append(
                ScopeProblem(
                    source,
                    start + index + 1,
                    None,
                    f"{body_lines[index].strip()[:40]!r} looks like a heading but is written with the full-width ＃",
                    "write ## with the half-width # (as on an English keyboard), then a space, e.g. ## 敬語",
                )
            )
    if scan.unclosed is not None:
        index, what = scan.unclosed
        problems.append(
            ScopeProblem(
                source,
                start + index + 1,
                None,
                f"a {what} is never closed, so the rest of the file is inside it",
                "close it (``` or ~~~ for code, --> for comments) before the next ## section",
            )
        )
    if not scan.headings:
        problems.append(
            ScopeProblem(
                source,
                None,
                None,
                "the scope has no sections",
                f"add at least one section after the header, e.g. ## {KNOWN_SECTIONS['context-and-history']}",
            )
        )
        return []
    sections: list[ScopeSection] = []
    seen: dict[str, ScopeSection] = {}
    ends = [index for index, _ in scan.headings[1:]] + [len(body_lines)]
    for number, ((index, title), end) in enumerate(zip(scan.headings, ends, strict=True), start=1):
        line = start + index + 1
        raw_body = body_lines[index + 1 : end]
        blank = next((offset for offset, text in enumerate(raw_body) if text), len(raw_body))
        body = "\n".join(raw_body).strip("\n")
        problems.extend(section_problems(title, body, line=line, source=source, body_line=line + 1 + blank))
        key = section_key(title)
        section = ScopeSection(key, title, body, line)
        if number == MAX_SECTIONS + 1:
            problems.append(
                ScopeProblem(
                    source,
                    line,
                    f"section {title!r}",
                    f"the scope has {len(scan.headings)} sections; the limit is {MAX_SECTIONS}",
                    "merge related sections (### subheadings can divide a section)",
                )
            )
        earlier = seen.get(key) if key else None
        if earlier is not None:
            # The same title in another Unicode form (NFD from a Mac) is the same title, not another name.
            same = "" if _folded(earlier.title) == _folded(title) else f" ({title!r} is another name for it)"
            problems.append(
                ScopeProblem(
                    source,
                    line,
                    f"section {title!r}",
                    f"repeats the section {earlier.title!r} on line {earlier.line}{same}",
                    "merge the two into one section",
                )
            )
        elif key:
            seen[key] = section
        sections.append(section)
    return sections


def _folded(title: str) -> str:
    return unicodedata.normalize("NFC", title).casefold()


def _check_preamble(
    preamble: Sequence[str], first_line: int, has_sections: bool, source: str, problems: list[ScopeProblem]
) -> None:
    text_at = next((index for index, line in enumerate(preamble) if line.strip()), None)
    if text_at is None or not strip_comments("\n".join(preamble)).strip():
        return  # nothing, or only comments (a licence, a note to reviewers), which no prompt shows
    text = [line.strip() for line in preamble if line.strip()]
    headings = [line for line in text if line.startswith("# ")]
    if headings and not has_sections:
        hint = "sections use level-2 headings: write ## instead of # (the title belongs in the header's title)"
    elif headings and len(headings) == len(text):
        hint = "delete this heading: the scope's title belongs in the header's title field"
    else:
        hint = (
            "move it under a ## heading (e.g. ## Context and history), or into the header's summary if it is an "
            "overview" + ("; the scope's title belongs in the header's title field" if headings else "")
        )
    problems.append(
        ScopeProblem(
            source,
            first_line + text_at,
            None,
            "text between the header and the first ## section is not part of any section",
            hint,
        )
    )


def level_one_heading_problem(line: str) -> tuple[str, str]:
    """What is wrong with a `# Title` line among the sections, and the hint; the caller says where."""
    message = f"{line.strip()[:40]!r} is a level-1 heading (a single #), which does not start a section"
    return message, "use ## for a new section or ### for a subheading"


def _check_level_one_headings(
    lines: Sequence[str], scan: MarkdownScan, first_line: int, source: str, problems: list[ScopeProblem]
) -> None:
    """`# Title` lines after the first section: silently read as text of the section above, they are
    refused instead. Those before it are text outside any section, which `_check_preamble` reports."""
    starts = [index for index, _ in scan.headings]
    for index in scan.level_one_headings:
        above = bisect.bisect_left(starts, index) - 1
        if above < 0:
            continue
        message, hint = level_one_heading_problem(lines[index])
        title = scan.headings[above][1]
        message += f", so it would be read as part of the section {title!r}"
        problems.append(ScopeProblem(source, first_line + index, None, message, hint))


def _check_control_characters(lines: Sequence[str], first_line: int, source: str, problems: list[ScopeProblem]) -> None:
    bad = [(index, match) for index, line in enumerate(lines) if (match := CONTROL_CHARACTER.search(line))]
    for index, match in bad[:3]:
        more = f" ({len(bad) - 3} more lines have some)" if len(bad) > 3 and index == bad[2][0] else ""
        problems.append(
            ScopeProblem(
                source,
                first_line + index,
                None,
                f"contains the control character U+{ord(match.group()):04X}{more}",
                "delete it: a scope is plain text",
            )
        )
