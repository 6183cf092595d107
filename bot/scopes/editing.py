"""Deriving edited scopes (one section or the summary at a time, as Discord's edit form does).

Each edit re-renders the file and parses it again, so an edited document is exactly what its text
says and obeys every rule a file does. Edits keep the header's text as written (comments included); a summary
edit replaces only the summary's value there, and renders the header in canonical form only when that cannot be
done safely.
"""

from __future__ import annotations

import re
import tomllib

from pydantic import ValidationError

from bot.scopes import toml_text
from bot.scopes.document import (
    MAX_SECTIONS,
    ScopeDocument,
    ScopeMetadata,
    ScopeSection,
    render_header,
    render_sections,
)
from bot.scopes.parser import (
    CONTROL_CHARACTER,
    HEADER_FENCE,
    level_one_heading_problem,
    normalise_text,
    parse_scope,
    section_problems,
)
from bot.scopes.problems import ScopeProblem, ScopeValidationError
from bot.scopes.sections import scan_markdown, section_key, strip_comments


def edit_section(document: ScopeDocument, title: str, body: str) -> ScopeDocument:
    """`document` with the section of `title`'s key replaced in place, or appended when new."""
    source = document.metadata.id
    title = " ".join(title.split())
    body = normalise_text(body).strip("\n")
    problems = section_problems(title, body, line=None, source=source)
    field = f"section {title!r}" if title else "section"
    if not body.strip():
        # A form of spaces would empty the section and save a new version (ending a running comparison).
        problems.append(
            ScopeProblem(
                source,
                None,
                field,
                "the text is empty, so nothing was saved",
                "write the section's text; to remove a section, /scope download the scope, delete the section "
                "and /scope upload the file",
            )
        )
    scan = scan_markdown(body.split("\n"))
    for index, heading in scan.headings:
        problems.append(
            ScopeProblem(
                source,
                None,
                field,
                f"line {index + 1} of the text ({'## ' + heading!r}) would start a new section",
                "use ### for a subheading inside this section, or add the other section separately",
            )
        )
    for index in scan.unspaced_headings:
        problems.append(
            ScopeProblem(
                source,
                None,
                field,
                f"line {index + 1} of the text looks like a heading but has no space after ##",
                "write ### followed by a space for a subheading inside this section",
            )
        )
    for index in scan.full_width_headings:
        problems.append(
            ScopeProblem(
                source,
                None,
                field,
                f"line {index + 1} of the text looks like a heading but is written with the full-width ＃",
                "write ### with the half-width # (as on an English keyboard), then a space, for a subheading",
            )
        )
    for index in scan.level_one_headings:
        message, _ = level_one_heading_problem(body.split("\n")[index])
        problems.append(
            ScopeProblem(
                source,
                None,
                field,
                f"line {index + 1} of the text: {message}",
                "use ### for a subheading inside this section, or add the other section separately",
            )
        )
    for index, line in enumerate(body.split("\n")):
        control = CONTROL_CHARACTER.search(line)
        if control is not None:
            problems.append(
                ScopeProblem(
                    source,
                    None,
                    field,
                    f"line {index + 1} of the text contains the control character U+{ord(control.group()):04X}",
                    "delete it: a scope is plain text",
                )
            )
            break
    if scan.unclosed is not None:
        index, what = scan.unclosed
        problems.append(
            ScopeProblem(
                source,
                None,
                field,
                f"line {index + 1} of the text opens a {what} that is never closed",
                "close it (``` or ~~~ for code, --> for comments) at the end of the text",
            )
        )
    key = section_key(title)
    sections = list(document.sections)
    position = next((index for index, section in enumerate(sections) if section.key == key), None)
    replacement = ScopeSection(key, title, body)
    if position is not None:
        sections[position] = replacement
    elif len(sections) >= MAX_SECTIONS:
        problems.append(_too_many_sections(document, field))
    else:
        sections.append(replacement)
    if problems:
        raise ScopeValidationError(problems)
    return parse_scope(
        header_text(document) + comments_before_sections(document) + render_sections(sections), source=source
    )


def new_section_problems(document: ScopeDocument, title: str) -> list[ScopeProblem]:
    """What rules out a section of this title before any text is written for it: the title's own problems, and,
    for a new section, a scope that already has the most sections. Checked before the edit form opens, so that
    a moderator does not write a section that can only be refused."""
    title = " ".join(title.split())
    problems = section_problems(title, "", line=None, source=document.metadata.id)
    if document.section(title) is None and len(document.sections) >= MAX_SECTIONS:
        problems.append(_too_many_sections(document, f"section {title!r}"))
    return problems


def _too_many_sections(document: ScopeDocument, field: str) -> ScopeProblem:
    return ScopeProblem(
        document.metadata.id,
        None,
        field,
        f"the scope already has {len(document.sections)} sections, the most it can have",
        "add this text to an existing section, or merge two sections first",
    )


def remove_section(document: ScopeDocument, key: str) -> ScopeDocument:
    """`document` without the section of `key`; `KeyError` when it has none."""
    wanted = document.section(key)
    if wanted is None:
        raise KeyError(key)
    if len(document.sections) == 1:
        raise ScopeValidationError(
            [
                ScopeProblem(
                    document.metadata.id,
                    None,
                    f"section {wanted.title!r}",
                    "is the only section, and a scope needs at least one",
                    "add another section before removing this one",
                )
            ]
        )
    rest = [section for section in document.sections if section.key != wanted.key]
    return parse_scope(
        header_text(document) + comments_before_sections(document) + render_sections(rest), source=document.metadata.id
    )


def edit_summary(document: ScopeDocument, summary: str) -> ScopeDocument:
    """`document` with a new summary: the header as written with only the summary's value replaced
    (`_header_with_summary`), or in canonical form when that cannot be done safely."""
    source = document.metadata.id
    values = document.metadata.model_dump()
    values["summary"] = summary
    try:
        metadata = ScopeMetadata.model_validate(values)
    except ValidationError as error:
        problems = []
        for detail in error.errors(include_url=False):
            context = detail.get("ctx") or {}
            problems.append(
                ScopeProblem(source, None, "summary", str(context.get("message", detail["msg"])), context.get("hint"))
            )
        raise ScopeValidationError(problems) from None
    header = _header_with_summary(header_text(document), metadata) or render_header(metadata)
    return parse_scope(header + comments_before_sections(document) + render_sections(document.sections), source=source)


_SUMMARY_KEY = re.compile(r"\s*summary\s*=")


def _header_with_summary(header: str, metadata: ScopeMetadata) -> str | None:
    """`header` as written (its comments and layout kept) with only the summary's value replaced by
    `metadata.summary`, or None when that cannot be done safely (the caller then renders the header anew)."""
    lines = header.split("\n")
    begin = next((i for i, line in enumerate(lines) if _SUMMARY_KEY.match(line)), None)
    if begin is None:
        return None
    # The value ends at the first line after which the key's lines parse as TOML on their own.
    for end in range(begin + 1, len(lines)):
        try:
            parsed = tomllib.loads("\n".join(lines[begin:end]))
        except tomllib.TOMLDecodeError:
            continue
        if set(parsed) != {"summary"}:
            return None
        replaced = [*lines[:begin], f"summary = {toml_text.multiline_string(metadata.summary)}", *lines[end:]]
        text = "\n".join(replaced)
        body = text.strip().removeprefix(HEADER_FENCE).removesuffix(HEADER_FENCE)
        try:
            written = ScopeMetadata.model_validate(tomllib.loads(body))
        except (tomllib.TOMLDecodeError, ValidationError):
            return None
        return text if written == metadata else None
    return None


def header_text(document: ScopeDocument) -> str:
    """The header block of `document.source_text` as written, when it still says what the metadata
    says; else the canonical header."""
    lines = document.source_text.split("\n")
    start = next((index for index, line in enumerate(lines) if line.strip()), None)
    if start is not None and lines[start].strip() == HEADER_FENCE:
        close = _header_close(lines, start)
        if close is not None:
            try:
                written = ScopeMetadata.model_validate(tomllib.loads("\n".join(lines[start + 1 : close])))
            except (tomllib.TOMLDecodeError, ValidationError):
                written = None
            if written == document.metadata:
                return "\n".join(lines[start : close + 1]) + "\n"
    return render_header(document.metadata)


def _header_close(lines: list[str], start: int) -> int | None:
    return next((i for i in range(start + 1, len(lines)) if lines[i].strip() == HEADER_FENCE), None)


def comments_before_sections(document: ScopeDocument) -> str:
    """The HTML comments written between the header and the first section (a licence, a note to reviewers; the
    parser refuses any other text there), with a blank line before them, which an edit keeps as it keeps the
    header's own; "" when there are none."""
    lines = document.source_text.split("\n")
    start = next((index for index, line in enumerate(lines) if line.strip()), None)
    close = _header_close(lines, start) if start is not None and lines[start].strip() == HEADER_FENCE else None
    if close is None:
        return ""
    body = lines[close + 1 :]
    scan = scan_markdown(body)
    before = "\n".join(body[: scan.headings[0][0]] if scan.headings else body).strip("\n")
    if not before.strip() or strip_comments(before).strip():
        return ""
    return "\n" + before + "\n"
