import time
from pathlib import Path

import pytest

from bot.scopes import (
    MAX_SCOPE_BYTES,
    MAX_SECTION_CHARS,
    MAX_SECTIONS,
    ScopeProblem,
    ScopeValidationError,
    parse_scope,
    validate_cli,
    validate_scope,
)
from bot.scopes.validate_cli import validate_paths

BAD = Path(__file__).parent / "bad"

VALID = '''+++
# A comment the parser ignores.
id = "sample-scope"
title = "Sample scope for tests"
summary = """A small scope used by the test-suite, covering one made-up community in one made-up setting."""
community = "Test writers"
setting = "The culturebot test-suite"
languages = ["en", "ID-id"]
not_covered = ["anything real"]
authors = ["culturebot maintainers"]
sources = ["Nobody, Nothing (Nowhere, 2024)"]
+++

## Context and history

Some context.

## Food at gatherings

A section the community added.

## Glossary

- **arisan**: a rotating savings gathering (monthly, among friends)
- **basa-basi**: small talk
'''

# file → (line of the problem or None, text the problem must contain). Files that are not UTF-8 do not
# end in .md: ruff's formatter reads every .md file it is given and fails on them.
EXPECTED = {
    "bad-id.md": (2, "id: 'Sample Scope' is not a valid id (fix: use 3 to 64 lowercase letters"),
    "bad-language.md": (7, "languages: 'english' is not a BCP-47 language tag (fix: use the tag \"en\" for English)"),
    "control-character.md": (14, "contains the control character U+0007"),
    "duplicate-key.md": (4, "title: the header is not valid TOML: a key is set more than once"),
    "duplicate-section.md": (20, "section 'Background': repeats the section 'Context and history' on line 12"),
    "empty-heading.md": (16, "section: the heading has no title"),
    "empty-not-covered.md": (8, "not_covered: is an empty list (fix: list what the scope does not cover"),
    "empty.md": (None, "the file is empty"),
    "glossary-format.md": (19, "the entry '- wrong: an entry without bold' is not in the glossary form"),
    "invalid-toml.md": (6, "setting: the header is not valid TOML: Invalid value"),
    "languages-string.md": (
        7,
        'languages: must be a list, not a single text (fix: put it in brackets: languages = ["en"])',
    ),
    "latin1.txt": (14, "not valid UTF-8: byte E9 at byte offset 341 (line 14)"),
    "missing-header.md": (1, "the file does not start with a metadata header"),
    "missing-summary.md": (9, "summary: is missing (fix: add it to the header"),
    "no-sections.md": (None, "the scope has no sections"),
    "scope.pdf": (None, "this looks like a binary file, not a Markdown scope (it seems to be a PDF document)"),
    "section-too-long.md": (16, "is 4,439 characters long; the limit is 4,000"),
    "summary-blank-line.md": (4, "summary: has a blank line: a summary is one paragraph"),
    "template-string.md": (10, "template: must be true or false, not text"),
    "text-before-sections.md": (12, "text between the header and the first ## section is not part of any section"),
    "too-many-sections.md": (132, "the scope has 32 sections; the limit is 30"),
    "unclosed-code-block.md": (16, "a code block (```) is never closed, so the rest of the file is inside it"),
    "unknown-key.md": (7, 'langauges: unknown key (fix: did you mean "languages"?'),
    "unspaced-heading.md": (16, "'##Norms' looks like a heading but has no space after ##"),
    "unterminated-header.md": (1, "the metadata header opened here with +++ is never closed"),
    "utf16.txt": (None, "the file is encoded as UTF-16, not UTF-8 (fix: re-save the file as UTF-8"),
    "whitespace-only.md": (None, "the file is empty"),
    "yaml-header.md": (1, "(YAML front matter); scope headers are TOML between +++ lines"),
}


def test_the_bad_corpus_and_the_expectations_match():
    assert sorted(path.name for path in BAD.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bad_file_yields_its_specific_problem(name):
    line, expected = EXPECTED[name]
    source = f"tests/scopes/bad/{name}"
    problems = validate_scope((BAD / name).read_bytes(), source=source)
    matching = [problem for problem in problems if expected in str(problem)]
    assert matching, "\n".join(map(str, problems))
    assert matching[0].line == line
    assert str(matching[0]).startswith(source if line is None else f"{source}:{line}: ")
    assert all(problem.hint for problem in problems), "every problem says how to fix it"
    with pytest.raises(ScopeValidationError) as raised:
        parse_scope((BAD / name).read_bytes(), source=source)
    assert raised.value.problems == problems


def test_a_misspelt_required_key_is_not_also_reported_missing():
    problems = validate_scope((BAD / "unknown-key.md").read_bytes(), source="x.md")
    assert [problem.field for problem in problems] == ["langauges"]


def test_a_valid_scope_parses():
    document = parse_scope(VALID, source="sample.md")
    meta = document.metadata
    assert meta.id == "sample-scope"
    assert meta.languages == ("en", "id-ID")  # letter case normalised
    assert meta.sources == ("Nobody, Nothing (Nowhere, 2024)",)
    assert meta.version_note is None and meta.template is False
    assert [(s.key, s.title, s.line) for s in document.sections] == [
        ("context-and-history", "Context and history", 14),
        ("food-at-gatherings", "Food at gatherings", 18),
        ("glossary", "Glossary", 22),
    ]
    assert document.sections[0].body == "Some context."
    assert validate_scope(VALID, source="sample.md") == []


def test_sections_are_found_by_key_title_or_alias_in_any_case():
    document = parse_scope(VALID)
    section = document.section("context-and-history")
    assert section is not None
    assert document.section("Context and History") == section
    assert document.section("BACKGROUND") == section
    assert document.section("key terms") == document.section("glossary")
    assert document.section("Food at gatherings") is not None
    assert document.section("norms") is None


def test_aliases_map_to_the_well_known_keys():
    text = VALID.replace("## Context and history", "## Forms of Address, Formality & Hierarchy")
    assert parse_scope(text).sections[0].key == "forms-of-address"


def test_glossary_entries():
    entries = parse_scope(VALID).glossary()
    assert [(e.term, e.meaning, e.when_used, e.line) for e in entries] == [
        ("arisan", "a rotating savings gathering", "monthly, among friends", 24),
        ("basa-basi", "small talk", None, 25),
    ]


def test_bytes_with_bom_and_crlf_and_trailing_spaces_are_normalised():
    data = b"\xef\xbb\xbf" + VALID.replace("\n", "   \r\n").encode()
    document = parse_scope(data)
    assert document == parse_scope(VALID)
    assert "\r" not in document.source_text and "   \n" not in document.source_text
    assert document.sections[0].line == 14


def test_headings_in_code_blocks_and_comments_are_not_sections():
    text = VALID.replace("Some context.", "```\n## not a section\n```\n\n<!--\n## nor this\n-->")
    document = parse_scope(text)
    assert [s.title for s in document.sections] == ["Context and history", "Food at gatherings", "Glossary"]
    assert "## not a section" in document.sections[0].body
    assert document.sections[0].prose == "```\n## not a section\n```"


def test_html_comments_are_kept_in_the_text():
    text = VALID.replace("Some context.", "<!-- a note for editors -->\nSome context.")
    section = parse_scope(text).sections[0]
    assert section.body == "<!-- a note for editors -->\nSome context."
    assert section.prose == "Some context."


@pytest.mark.parametrize("tag", ["en", "yo", "pcm", "zh-Hant-TW", "es-419", "de-CH-1996", "sr-Latn"])
def test_well_formed_language_tags_are_accepted(tag):
    assert parse_scope(VALID.replace('["en", "ID-id"]', f'["{tag}"]')).metadata.languages == (tag,)


def test_a_bad_entry_in_a_multiline_list_is_reported_on_its_own_line():
    text = VALID.replace('languages = ["en", "ID-id"]', 'languages = [\n    "en",\n    "en_GB",\n]')
    (problem,) = validate_scope(text, source="s.md")
    assert str(problem) == (
        "s.md:10: languages: 'en_GB' is not a BCP-47 language tag (fix: separate the parts with hyphens: \"en-GB\")"
    )


def test_every_problem_is_reported_at_once_in_file_order():
    text = (
        (
            VALID.replace('id = "sample-scope"', 'id = "Sample"')
            .replace('["en", "ID-id"]', '["english"]')
            .replace("authors =", "author =")
            .replace('setting = "The culturebot test-suite"', "setting = 3")
            .replace("## Food at gatherings", "## Context")
        )
        + "\n## Norms\n\n"
        + "x" * (MAX_SECTION_CHARS + 1)
        + "\n"
    )
    problems = validate_scope(text, source="many.md")
    assert [(p.line, p.field) for p in problems] == [
        (3, "id"),
        (7, "setting"),
        (8, "languages"),
        (10, "author"),
        (18, "section 'Context'"),
        (27, "section 'Norms'"),
    ]
    assert 'did you mean "authors"' in str(problems[3])
    assert "setting: must be text, not a number" in str(problems[1])
    with pytest.raises(ScopeValidationError) as raised:
        parse_scope(text, source="many.md")
    assert str(raised.value).splitlines() == [str(problem) for problem in problems]


def test_problem_format():
    problem = ScopeProblem(
        "scopes/x.md", 7, "languages", "'english' is not a BCP-47 language tag", 'use a tag such as "en" or "id-ID"'
    )
    assert str(problem) == (
        'scopes/x.md:7: languages: \'english\' is not a BCP-47 language tag (fix: use a tag such as "en" or "id-ID")'
    )
    assert str(ScopeProblem("x.md", None, None, "the file is empty", None)) == "x.md: the file is empty"
    assert isinstance(ScopeValidationError([problem]), ValueError)


def test_binary_bytes_are_refused_as_binary():
    problems = validate_scope(b"+++\nid = \x00\x01\x02\xff\xfe\n", source="upload.bin")
    assert [str(p) for p in problems] == [
        "upload.bin: this looks like a binary file, not a Markdown scope (fix: upload the scope as a plain-text .md "
        "file: a TOML header between +++ lines, then ## sections; see scopes/_blank.md for a commented example)"
    ]


def test_an_image_is_named_not_taken_for_utf16():
    # A PNG's zero bytes look like UTF-16 text; its signature says what it is.
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    (problem,) = validate_scope(png, source="scope.png")
    assert problem.message == "this looks like a binary file, not a Markdown scope (it seems to be a PNG image)"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"SQLite format 3\x00" + b"\x10\x00\x02\x02" + b"\x00" * 200, "an SQLite database"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "a program (ELF)"),
    ],
)
def test_a_database_or_a_program_is_named_not_taken_for_utf16(data, kind):
    """Their zero bytes made them "encoded as UTF-16", with advice to re-save them as UTF-8."""
    (problem,) = validate_scope(data, source="scope.md")
    assert problem.message == f"this looks like a binary file, not a Markdown scope (it seems to be {kind})"


def test_zero_bytes_that_do_not_read_as_text_are_binary_and_utf16_text_is_utf16():
    (problem,) = validate_scope(bytes(range(1, 9)) * 2 + b"\x00\x00\x00\xff" * 30, source="blob.md")
    assert problem.message.startswith("this looks like a binary file")
    (problem,) = validate_scope("+++\nid = 'kopi'\n+++\n## Glossary\n".encode("utf-16-le"), source="u.md")
    assert problem.message == "the file is encoded as UTF-16, not UTF-8"


def test_a_header_nested_too_deeply_is_a_problem_not_a_crash():
    deep = VALID.replace("+++\n", "+++\nextra = " + "[" * 5000 + "]" * 5000 + "\n", 1)
    (problem,) = validate_scope(deep, source="deep.md")
    assert problem.message == "the header nests lists or tables too deeply to read"
    assert problem.line == 2


def test_a_word_document_is_named():
    (problem,) = validate_scope(b"PK\x03\x04\x14\x00\x06\x00word/document.xml", source="scope.docx")
    assert "binary file" in problem.message and "Word" in problem.message


def test_ten_megabytes_are_refused_quickly_by_size(tmp_path, monkeypatch):
    big = tmp_path / "big.md"
    with big.open("wb") as handle:
        handle.write(b"x" * (10 * 1024 * 1024))

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "open", no_reading)
    monkeypatch.setattr(Path, "read_bytes", no_reading)
    started = time.perf_counter()
    ok, report = validate_paths([big])
    assert time.perf_counter() - started < 0.5
    assert not ok
    assert report.splitlines()[0] == (
        f"{big}: the file is 10.0 MB (10,485,760 bytes); a scope can be at most 64 KB (fix: shorten it: a scope is "
        "context for every answer, so keep it to what matters most (at most 30 sections of 4,000 characters))"
    )


def test_oversized_bytes_and_text_are_refused_before_decoding():
    data = b"\xff" * (10 * 1024 * 1024)  # not UTF-8 either: only the size may be reported
    started = time.perf_counter()
    (problem,) = validate_scope(data, source="big.md")
    assert time.perf_counter() - started < 0.5
    assert "10.0 MB (10,485,760 bytes)" in problem.message
    (problem,) = validate_scope("é" * (MAX_SCOPE_BYTES // 2 + 1), source="big.md")
    assert "65,538 bytes" in problem.message  # counted in UTF-8 bytes, not characters


def test_exactly_the_size_limit_is_allowed():
    text = VALID
    part = 0
    while MAX_SCOPE_BYTES - len(text.encode()) > 4000:
        part += 1
        text += f"\n## Part {part}\n\n" + "z" * 3900 + "\n"
    text += "\n## Last part\n\n"
    text += "w" * (MAX_SCOPE_BYTES - len(text.encode()))
    assert len(text.encode()) == MAX_SCOPE_BYTES
    assert validate_scope(text, source="s.md") == []
    (problem,) = validate_scope(text + "w", source="s.md")
    assert "the file is 64.0 KB (65,537 bytes)" in problem.message


def test_section_count_limit():
    text = VALID + "".join(f"\n## Extra {n}\n\nText.\n" for n in range(MAX_SECTIONS - 3))
    assert len(parse_scope(text).sections) == MAX_SECTIONS
    problems = validate_scope(text + "\n## One too many\n\nText.\n", source="s.md")
    assert [p.field for p in problems] == ["section 'One too many'"]


def test_section_title_limit():
    (problem,) = validate_scope(VALID + "\n## " + "T" * 101 + "\n\nText.\n", source="s.md")
    assert "the title is 101 characters long; the limit is 100" in problem.message


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ('title = "Sample scope for tests"', 'title = "' + "t" * 101 + '"', "title: is 101 characters long"),
        ('summary = """A small', 'summary = """Tiny."""\nx = """', "summary: is only 5 characters long"),
        ('authors = ["culturebot maintainers"]', "authors = []", "authors: is an empty list"),
        ('authors = ["culturebot maintainers"]', 'authors = ["a", ""]', "authors: has an empty entry"),
        ('authors = ["culturebot maintainers"]', "authors = [1]", "authors: every entry must be text, not a number"),
        ('languages = ["en", "ID-id"]', 'languages = ["en", "EN"]', 'languages: lists "en" twice'),
        ('languages = ["en", "ID-id"]', 'languages = ["Bahasa"]', 'use the tag "id" for Bahasa'),
        ('id = "sample-scope"', 'id = "ab"', "id: 'ab' is not a valid id"),
        ('id = "sample-scope"', 'id = "-sample"', "id: '-sample' is not a valid id"),
        # The suggestion takes accents off rather than the letters that carry them ("gia-nh-h-n-i" before).
        ('id = "sample-scope"', 'id = "Gia đình Hà Nội"', 'e.g. "gia-dinh-ha-noi"'),
        ('id = "sample-scope"', 'id = "Ọjà Ẹ̀kọ́ Lagos"', 'e.g. "oja-eko-lagos"'),
        ('id = "sample-scope"', "description = 'x'", 'description: unknown key (fix: did you mean "summary"?'),
        ('id = "sample-scope"', 'id = "sample-scope"\ntemplate = "true"', "template: must be true or false"),
        ('id = "sample-scope"', "[metadata]", "metadata: unknown key"),
    ],
)
def test_metadata_rules(replace, by, expected):
    assert replace in VALID
    problems = validate_scope(VALID.replace(replace, by), source="s.md")
    assert any(expected in str(problem) for problem in problems), "\n".join(map(str, problems))


@pytest.mark.parametrize(
    "languages",
    [
        'languages = ["en" "ID-id"]',  # a comma missing: tomllib said "unclosed array", at a column past it
        'languages = ["en", "ID-id"',  # not closed: tomllib gave the next key's line
        'languages = [\n    "en"\n    "ID-id",\n]',  # a comma missing in a list over several lines
    ],
)
def test_a_broken_list_is_located_on_its_own_key_with_both_fixes(languages):
    text = VALID.replace('languages = ["en", "ID-id"]', languages)
    [problem] = validate_scope(text, source="s.md")
    assert (problem.line, problem.field) == (8, "languages")
    assert problem.message == (
        "the header is not valid TOML: a list is not closed, or two of its entries have no comma between them"
    )
    assert problem.hint == 'put a comma between entries and close the list with ]: e.g. ["a", "b"]'


@pytest.mark.parametrize(
    ("original", "typed"),
    [
        ('community = "Test writers"', "community = “Test writers”"),  # a word processor's
        ('community = "Test writers"', "community = ‘Test writers’"),
        ('languages = ["en", "ID-id"]', "languages = [„en“, „ID-id“]"),  # a German keyboard's
    ],
)
def test_typographic_quotes_in_the_header_are_named(original, typed):
    [problem] = validate_scope(VALID.replace(original, typed), source="s.md")
    assert problem.field == original.split()[0]
    assert problem.message == (
        "the header is not valid TOML: the text is in typographic quotes (“…” or ‘…’), which TOML does not read as "
        "quotes"
    )
    assert problem.hint == 'use straight double quotes: key = "like this"'


def test_an_unterminated_string_is_located_on_its_own_line():
    text = VALID.replace('community = "Test writers"', 'community = "Test writers')
    problems = validate_scope(text, source="s.md")
    assert [(p.line, p.field) for p in problems][:1] == [(6, "community")]
    assert "the text is not closed with a quote before the end of the line" in problems[0].message


def test_a_header_comment_with_key_like_text_is_harmless():
    assert parse_scope(VALID.replace("# A comment", "# summary = not a key; a comment"))


def test_quotes_backslashes_and_unicode_round_trip():
    tricky = 'He said \\"hi\\" \\\\ then \\"\\"\\" and a tab\\t, ends with a quote: \\"'
    text = VALID.replace(
        'summary = """A small scope used by the test-suite, covering one made-up community in one made-up setting."""',
        f'summary = "A community of café owners in Hà Nội & Lagos. {tricky}"',
    ).replace('title = "Sample scope for tests"', 'title = "Ọjà \\"market\\" scope"')
    document = parse_scope(text)
    assert document.metadata.summary.endswith('then """ and a tab\t, ends with a quote: "')
    assert document.metadata.title == 'Ọjà "market" scope'
    again = parse_scope(document.to_markdown())
    assert again == document
    assert again.to_markdown() == document.to_markdown()


def test_round_trip_of_a_scope():
    document = parse_scope(VALID)
    markdown = document.to_markdown()
    assert markdown.startswith('+++\nid = "sample-scope"\n')
    assert "# A comment" not in markdown  # canonical form; source_text keeps the original
    assert "# A comment" in document.source_text
    assert parse_scope(markdown) == document
    assert parse_scope(markdown).source_text == markdown


def test_with_section_replaces_in_place_and_keeps_the_header_as_written():
    document = parse_scope(VALID)
    edited = document.with_section("Background", "New context.\n\n### A subheading\n\nMore.   ")
    assert [s.title for s in edited.sections] == ["Background", "Food at gatherings", "Glossary"]
    assert edited.sections[0].body == "New context.\n\n### A subheading\n\nMore."
    assert edited.metadata == document.metadata
    assert "# A comment the parser ignores." in edited.source_text
    assert parse_scope(edited.source_text) == edited
    assert document.sections[0].body == "Some context."  # the original is unchanged


def test_with_section_appends_a_new_section():
    edited = parse_scope(VALID).with_section("Norms and etiquette", "Be on time.")
    assert edited.sections[-1].key == "norms-and-etiquette"
    assert edited.section("norms") == edited.sections[-1]


def test_with_section_rejects_what_a_file_would_reject():
    document = parse_scope(VALID)
    with pytest.raises(ScopeValidationError) as raised:
        document.with_section("Glossary", "x" * (MAX_SECTION_CHARS + 1))
    (problem,) = raised.value.problems
    assert problem.field == "section 'Glossary'" and problem.line is None
    assert "4,001 characters long; the limit is 4,000" in problem.message
    assert problem.hint is not None and "Discord" in problem.hint
    with pytest.raises(ScopeValidationError, match="would start a new section"):
        document.with_section("Glossary", "text\n## Sneaky\nmore")
    with pytest.raises(ScopeValidationError, match="is not in the glossary form"):
        document.with_section("Glossary", "- not an entry")
    with pytest.raises(ScopeValidationError, match="the heading has no title"):
        document.with_section("   ", "text")
    full = document
    for n in range(MAX_SECTIONS - len(document.sections)):
        full = full.with_section(f"Part {n}", "text")
    with pytest.raises(ScopeValidationError, match="already has 30 sections"):
        full.with_section("One more", "text")
    assert full.with_section("Part 1", "replaced").section("part 1") is not None


def test_with_summary():
    document = parse_scope(VALID)
    edited = document.with_summary("A new summary that is long enough to be one useful paragraph.  ")
    assert edited.metadata.summary == "A new summary that is long enough to be one useful paragraph."
    assert edited.sections == document.sections
    assert edited.metadata.model_copy(update={"summary": document.metadata.summary}) == document.metadata
    with pytest.raises(ScopeValidationError) as raised:
        document.with_summary("Too short.")
    (problem,) = raised.value.problems
    assert problem.field == "summary" and "at least 40" in problem.message and problem.hint
    with pytest.raises(ScopeValidationError, match="has a blank line"):
        document.with_summary("First paragraph is here.\n\nSecond paragraph is here, too.")


@pytest.mark.parametrize(
    "summary_lines",
    [
        ['summary = """A small scope used by the test-suite, covering one made-up community in one place."""'],
        ['summary = """', "A summary written over lines,", 'with the quotes alone at the end, long enough."""'],
        ["summary = 'A literal string summary that is long enough to count as one paragraph.' # why"],
    ],
    ids=["one line", "over lines", "literal string"],
)
def test_with_summary_keeps_the_header_as_written(summary_lines):
    """Comments the community wrote in its header ("you may keep" them, the blank template says) stay, and so
    do the other fields' layout: only the summary's value changes."""
    lines = VALID.split("\n")
    [at] = [i for i, line in enumerate(lines) if line.startswith("summary")]
    source = "\n".join([*lines[:at], "# Reviewed by the elders' circle in 2026.", *summary_lines, *lines[at + 1 :]])
    edited = parse_scope(source).with_summary("A new summary that is long enough to be one useful paragraph.")
    assert edited.metadata.summary == "A new summary that is long enough to be one useful paragraph."
    header = edited.source_text.split("+++")[1]
    assert "# A comment the parser ignores." in header and "# Reviewed by the elders' circle in 2026." in header
    assert 'languages = ["en", "ID-id"]' in header, "the other fields as written"
    assert header.count("summary =") == 1 and "A small scope" not in header and "written over lines" not in header


def test_without_section():
    document = parse_scope(VALID)
    assert [s.key for s in document.without_section("food at gatherings").sections] == [
        "context-and-history",
        "glossary",
    ]
    with pytest.raises(KeyError):
        document.without_section("norms")
    only = document.without_section("glossary").without_section("food-at-gatherings")
    with pytest.raises(ScopeValidationError, match="only section"):
        only.without_section("context-and-history")


def test_documents_are_immutable_and_hashable():
    document = parse_scope(VALID)
    with pytest.raises(AttributeError):
        document.sections = ()  # type: ignore[misc]
    with pytest.raises(ValueError, match="frozen"):
        document.metadata.id = "other"
    assert hash(document) == hash(parse_scope(document.to_markdown()))


def test_validate_paths_report(tmp_path):
    good = tmp_path / "good.md"
    good.write_text(VALID, encoding="utf-8")
    bad = tmp_path / "bad.md"
    bad.write_text(VALID.replace('["en", "ID-id"]', '["english"]'), encoding="utf-8")
    missing = tmp_path / "missing.md"
    assert validate_paths([good]) == (True, "1 file checked, 0 problems")
    ok, report = validate_paths([good, bad, missing])
    assert not ok
    assert report.splitlines() == [
        f"{bad}:8: languages: 'english' is not a BCP-47 language tag (fix: use the tag \"en\" for English)",
        f"{missing}: no such file (fix: check the path)",
        "3 files checked, 2 problems",
    ]


def test_validate_paths_checks_a_folders_files_except_underscored_ones(tmp_path):
    (tmp_path / "a.md").write_text(VALID, encoding="utf-8")
    (tmp_path / "b.md").write_text(VALID, encoding="utf-8")
    (tmp_path / "_draft.md").write_text("unfinished", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a scope", encoding="utf-8")
    assert validate_paths([tmp_path]) == (True, "2 files checked, 0 problems")
    empty = tmp_path / "empty"
    empty.mkdir()
    ok, report = validate_paths([empty])
    assert not ok and report.splitlines() == [
        f"{empty}: the folder has no .md scope files",
        "0 files checked, 1 problem",
    ]


def test_validate_paths_reports_unreadable_files(tmp_path, monkeypatch):
    unreadable = tmp_path / "secret.md"
    unreadable.write_text(VALID, encoding="utf-8")

    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(validate_cli, "read_scope_file", refuse)
    ok, report = validate_paths([unreadable])
    assert not ok
    assert report.splitlines() == [
        f"{unreadable}: cannot be read: permission denied (fix: check the file's permissions)",
        "1 file checked, 1 problem",
    ]


def test_the_command_line_entry_point(tmp_path, capsys):
    good = tmp_path / "good.md"
    good.write_text(VALID, encoding="utf-8")
    assert validate_cli.main([str(good)]) == 0
    assert capsys.readouterr().out == "1 file checked, 0 problems\n"
    assert validate_cli.main([str(good), str(tmp_path / "nope.md")]) == 1
    assert capsys.readouterr().out.endswith("2 files checked, 1 problem\n")


def test_edits_report_problems_relative_to_the_edited_text():
    document = parse_scope(VALID)
    with pytest.raises(ScopeValidationError) as raised:
        document.with_section("Norms", "fine\nbell \x07 here\n##Sub\n```\nopen")
    assert [(p.line, p.message) for p in raised.value.problems] == [
        (None, "line 3 of the text looks like a heading but has no space after ##"),
        (None, "line 2 of the text contains the control character U+0007"),
        (None, "line 4 of the text opens a code block (```) that is never closed"),
    ]


@pytest.mark.parametrize("space", ["", " \t", "\u00a0", "\u2003", "\u3000 "])
def test_a_summary_line_of_plus_signs_does_not_end_the_header(space):
    # The header ends at the first line that is +++ once stripped, and str.strip() takes any Unicode space.
    line = f"{space}+++{space}"
    edited = parse_scope(VALID).with_summary(f"A summary with a strange line in it,\n{line}\nwhich must stay inside.")
    assert edited.metadata.summary.split("\n")[1].strip() == "+++"
    assert parse_scope(edited.to_markdown()) == edited


def test_control_characters_in_metadata_are_refused():
    problems = validate_scope(
        VALID.replace('community = "Test writers"', 'community = "Test\\u0007writers"'), source="s"
    )
    assert [str(p) for p in problems] == [
        "s:6: community: contains the control character U+0007 (fix: delete it: this is plain text)"
    ]


def test_many_malformed_glossary_entries_are_summarised():
    text = VALID + "".join(f"- entry {n}\n" for n in range(40))
    problems = validate_scope(text, source="s.md")
    assert len(problems) == 5
    assert problems[-1].message.endswith("(35 more entries are not either)")


def test_a_pathological_header_is_still_checked_quickly():
    header = "".join(f"key{n} = 1\n" for n in range(5000))
    text = "+++\n" + header + 'id = "unterminated\n+++\n\n## A\n\nText.\n'
    assert len(text.encode()) < MAX_SCOPE_BYTES
    started = time.perf_counter()
    problems = validate_scope(text, source="s.md")
    assert time.perf_counter() - started < 3
    assert (problems[0].line, problems[0].field) == (5002, "id")


@pytest.mark.parametrize(
    ("added", "line", "expected"),
    [
        ('"my key" = "x"', 4, "my key: unknown key"),  # a quoted key with a space: no line before
        ("[extra]\nnote = 1", 4, "extra: unknown key"),  # a table: no line before
    ],
)
def test_header_keys_quoted_or_opening_a_table_are_located(added, line, expected):
    text = VALID.replace('id = "sample-scope"', f'id = "sample-scope"\n{added}', 1)
    problems = [problem for problem in validate_scope(text, source="s.md") if expected in str(problem)]
    assert [problem.line for problem in problems] == [line], "\n".join(map(str, problems))


def test_a_dotted_key_at_fault_is_the_line_named():
    """`languages.extra = 1` after `languages = [...]`: the error was put on the statement before it."""
    text = VALID.replace('languages = ["en", "ID-id"]', 'languages = ["en", "ID-id"]\nlanguages.extra = 1')
    [problem] = validate_scope(text, source="s.md")
    assert problem.line == 9 and problem.field == "languages"


def test_a_text_file_starting_with_mz_is_not_taken_for_a_program():
    problems = validate_scope(b"MZ notes on the scope\n", source="notes.md")
    assert problems and not any("binary" in problem.message for problem in problems)
