"""Section keys in every script, headings the reader could miss, and stray byte order marks."""

import unicodedata

import pytest

from bot.scopes import ScopeValidationError, parse_scope, section_key, validate_scope
from bot.scopes.editing import edit_section
from tests.scopes.test_parser import VALID


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def with_sections(*sections: tuple[str, str]) -> str:
    """VALID with its sections replaced by `## title` + body for each of `sections`."""
    header = VALID[: VALID.index("## Context and history")]
    return header + "".join(f"## {title}\n\n{body}\n\n" for title, body in sections)


# --- section keys ----------------------------------------------------------------------------------

# Words that differ only in a combining mark: once the same key, each pair made a scope "repeat" a section.
DIFFERENT_WORDS = [
    ("भाषा", "भूषा"),  # Hindi: language / adornment (vowel signs)
    ("كَتَبَ", "كُتُب"),  # Arabic: he wrote / books (harakat)
    ("ที่", "ที"),  # Thai: tone mark
    (nfd("Ọjà"), nfd("Ọjá")),  # Yoruba tone marks, decomposed
    ("ẹ̀kọ́", "ẹ̀kọ"),  # Yoruba: no precomposed ẹ̀ or ọ́, so combining marks even in NFC
]


@pytest.mark.parametrize(("first", "second"), DIFFERENT_WORDS)
def test_words_differing_in_a_combining_mark_have_different_keys(first, second):
    assert section_key(first) != section_key(second)
    document = parse_scope(with_sections((first, "One."), (second, "Two.")))
    assert [section.title for section in document.sections] == [first, second]
    found = document.section(second)
    assert found is not None and found.body == "Two."


def test_editing_a_section_by_title_edits_that_section_not_its_look_alike():
    document = parse_scope(with_sections(("भाषा", "Language."), ("भूषा", "Adornment.")))
    edited = document.with_section("भूषा", "Dress and jewellery.")
    assert [(s.title, s.body) for s in edited.sections] == [("भाषा", "Language."), ("भूषा", "Dress and jewellery.")]
    assert len(document.without_section("भूषा").sections) == 1
    assert document.without_section("भूषा").sections[0].title == "भाषा"


@pytest.mark.parametrize("title", ["Từ vựng", "Ọjà àti ìṣe", "Café culture", "भाषा"])
def test_decomposed_and_composed_titles_have_one_key(title):
    composed, decomposed = unicodedata.normalize("NFC", title), nfd(title)
    assert section_key(composed) == section_key(decomposed) == section_key(decomposed.upper())
    document = parse_scope(with_sections((composed, "One.")))
    assert document.section(decomposed) == document.sections[0]


def test_a_title_repeated_in_another_unicode_form_is_a_repeat_not_another_name():
    (problem,) = validate_scope(with_sections(("Từ vựng", "One."), (nfd("Từ vựng"), "Two.")), source="s.md")
    assert problem.message == "repeats the section 'Từ vựng' on line 14"
    assert problem.line == 18 and problem.hint == "merge the two into one section"


@pytest.mark.parametrize(
    ("title", "key"),
    [
        # Keys of titles without combining marks are as before (no stored key may change meaning).
        ("Food at gatherings", "food-at-gatherings"),
        ("Forms of Address, Formality & Hierarchy", "forms-of-address"),
        ("BACKGROUND", "context-and-history"),
        ("snake_case  title!", "snake-case-title"),
        ("Café & Bar", "café-and-bar"),
        ("Straße der Gäste", "strasse-der-gäste"),
        ("Ñandú, Ærø, Œuvre", "ñandú-ærø-œuvre"),
        ("日本の職場", "日本の職場"),
        ("Part 12", "part-12"),
    ],
)
def test_keys_of_titles_without_marks_are_unchanged(title, key):
    assert section_key(title) == key


def test_a_title_of_combining_marks_alone_has_no_letters():
    problems = validate_scope(with_sections(("\u0301\u0300", "Text.")), source="s.md")
    assert [problem.message for problem in problems] == ["the title has no letters or digits"]
    assert section_key("a \u0301 b") == "a-b"  # a stray accent after a space is not a word


# --- headings that did not start a section ---------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message", "hint"),
    [
        (
            "# Dress code",
            "'# Dress code' is a level-1 heading (a single #), which does not start a section, so it would be read "
            "as part of the section 'Food at gatherings'",
            "use ## for a new section or ### for a subheading",
        ),
    ],
)
def test_a_level_one_heading_among_the_sections_is_a_problem(line, message, hint):
    text = VALID.replace("A section the community added.", f"A section the community added.\n\n{line}\n\nWear batik.")
    (problem,) = validate_scope(text, source="s.md")
    assert (problem.line, problem.field, problem.message, problem.hint) == (22, None, message, hint)
    assert str(problem).startswith("s.md:22: ")


@pytest.mark.parametrize("line", ["＃＃ 敬語", "＃＃敬語", "#＃ 敬語", "  ＃＃＃ 敬語"])
def test_a_heading_written_with_full_width_hashes_is_a_problem(line):
    """Chinese and Japanese input methods type ＃ (U+FF03), which Markdown does not read as a heading: the section
    would silently be text of the one above."""
    added = "A section the community added."
    text = VALID.replace(added, f"{added}\n\n{line}\n\n敬語の使い方。")
    (problem,) = validate_scope(text, source="s.md")
    assert (problem.line, problem.field) == (22, None)
    assert problem.message == f"{line.strip()!r} looks like a heading but is written with the full-width ＃"
    assert problem.hint is not None and "half-width #" in problem.hint
    with pytest.raises(ScopeValidationError) as raised:
        parse_scope(VALID).with_section("Norms", f"Be on time.\n{line}")
    [(field, message)] = [(p.field, p.message) for p in raised.value.problems]
    assert (field, message) == (
        "section 'Norms'",
        "line 2 of the text looks like a heading but is written with the full-width ＃",
    )


def test_hashes_that_are_not_level_one_headings_are_left_alone():
    body = (
        "```\n# a shell comment\n```\n\n<!--\n# a note\n-->\n\n#1 rule: be on time.\n\n#\n\n#budaya is our tag\n\n"
        "### A subheading\n\n＃1 の規則\n\n＃タグ"
    )
    document = parse_scope(VALID.replace("A section the community added.", body))
    assert document.sections[1].body == body


def test_only_comments_before_the_first_section_are_accepted():
    """A licence or a note to reviewers in an HTML comment before the first section is no text of the scope (no
    prompt shows comments); an unclosed one still is a problem, as anywhere."""
    licence = "<!--\nCC BY 4.0, the Surabaya test writers.\n-->\n<!-- reviewed 2026-12 -->\n\n"
    text = VALID.replace("## Context and history", licence + "## Context and history")
    assert validate_scope(text, source="s.md") == []
    assert parse_scope(text).sections[0].title == "Context and history"
    mixed = VALID.replace("## Context and history", "<!-- licence -->\nAn overview.\n\n## Context and history")
    [problem] = validate_scope(mixed, source="s.md")
    assert problem.message == "text between the header and the first ## section is not part of any section"
    unclosed = VALID.replace("## Context and history", "<!-- licence\n\n## Context and history")
    assert any("is never closed" in problem.message for problem in validate_scope(unclosed, source="s.md"))


def test_a_level_one_heading_before_the_sections_is_reported_once():
    text = VALID.replace("## Context and history", "# My scope\n\n## Context and history")
    (problem,) = validate_scope(text, source="s.md")
    assert problem.message == "text between the header and the first ## section is not part of any section"


def test_an_edit_with_a_level_one_heading_is_refused_relative_to_the_text():
    with pytest.raises(ScopeValidationError) as raised:
        parse_scope(VALID).with_section("Norms", "Be on time.\n# Dress\n#Gifts")
    assert [(p.line, p.field, p.message) for p in raised.value.problems] == [
        (None, "section 'Norms'", "line 2 of the text: '# Dress' is a level-1 heading (a single #), which does not "
         "start a section"),
    ]  # fmt: skip
    assert all(p.hint and "### for a subheading" in p.hint for p in raised.value.problems)


@pytest.mark.parametrize("space", ["\u00a0", "\u2003", "\u3000", " \u00a0"])
def test_a_heading_with_a_unicode_space_after_the_hashes_is_a_heading(space):
    text = VALID.replace("## Glossary", f"##{space}Glossary{space}##") + "- not an entry\n"
    document_text = text.replace("- not an entry\n", "")
    document = parse_scope(document_text)
    assert [s.title for s in document.sections] == ["Context and history", "Food at gatherings", "Glossary"]
    assert [entry.term for entry in document.glossary()] == ["arisan", "basa-basi"]
    (problem,) = validate_scope(text, source="s.md")  # the glossary's entries are checked again
    assert problem.field == "section 'Glossary'" and "is not in the glossary form" in problem.message


# --- byte order marks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf\xef\xbb\xbf" + VALID.encode(),  # saved twice with a BOM
        ("\n\ufeff" + VALID).encode(),  # a BOM after a blank line
        "\ufeff\ufeff" + VALID,
    ],
)
def test_a_stray_byte_order_mark_before_the_header_is_ignored(data):
    document = parse_scope(data)
    expected = parse_scope(VALID)
    assert document.metadata == expected.metadata
    assert [(s.key, s.title, s.body) for s in document.sections] == [
        (s.key, s.title, s.body) for s in expected.sections
    ]
    assert "\ufeff" not in document.source_text


def test_a_byte_order_mark_before_a_heading_does_not_hide_it():
    document = parse_scope(VALID.replace("## Glossary", "\ufeff## Glossary"))
    assert [s.title for s in document.sections][-1] == "Glossary"


def test_byte_order_marks_alone_are_an_empty_file():
    (problem,) = validate_scope(b"\xef\xbb\xbf\xef\xbb\xbf\n", source="s.md")
    assert problem.message == "the file is empty"


@pytest.mark.parametrize("body", ["", "   ", "\n \t\n"])
def test_an_edit_with_no_text_is_refused_and_says_how_to_remove_a_section(body):
    document = parse_scope(with_sections(("Glossary", "Pak: Mr.")))
    with pytest.raises(ScopeValidationError) as raised:
        edit_section(document, "Glossary", body)
    [problem] = raised.value.problems
    assert problem.message == "the text is empty, so nothing was saved"
    assert problem.hint is not None and "delete the section and /scope upload the file" in problem.hint


def test_a_first_version_with_one_section_is_described_in_the_singular():
    from bot.scopes.manage import describe_change

    assert describe_change(None, parse_scope(with_sections(("Glossary", "Pak: Mr.")))) == "first version (1 section)"


def test_comments_before_the_first_section_survive_an_edit_of_a_section_and_of_the_summary():
    """Accepted at upload since 5b2d282, they were left out of the file a form edit writes back."""
    licence = "<!-- Licence: CC BY-SA 4.0, the Surabaya test writers. -->"
    text = VALID.replace("## Context and history", licence + "\n\n## Context and history")
    document = parse_scope(text)
    edited = document.with_section("Context and history", "Rewritten context.")
    assert licence in edited.source_text
    assert validate_scope(edited.source_text, source="s.md") == []
    assert edited.sections[0].body == "Rewritten context."
    summary = edited.with_summary("A new summary for the test scope, long enough to pass the summary's rule.")
    assert licence in summary.source_text
