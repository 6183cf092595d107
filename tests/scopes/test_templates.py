import re
from pathlib import Path

import pytest

import bot
from bot.scopes import (
    BLANK_TEMPLATE,
    KNOWN_SECTIONS,
    TEMPLATES_DIR,
    ScopeValidationError,
    UnknownTemplateError,
    list_templates,
    load_template,
    parse_scope,
    validate_scope,
)
from bot.scopes.validate_cli import validate_paths

SHIPPED = sorted(path for path in TEMPLATES_DIR.glob("*.md") if not path.name.startswith("_"))
NAMES = [path.stem for path in SHIPPED]


def test_the_templates_folder_is_the_repository_scopes_folder():
    assert Path(bot.__file__).resolve().parent.parent / "scopes" == TEMPLATES_DIR
    assert TEMPLATES_DIR.is_dir()
    assert len(SHIPPED) >= 4


@pytest.mark.parametrize("path", SHIPPED, ids=NAMES)
def test_every_shipped_template_validates(path):
    problems = validate_scope(path.read_bytes(), source=f"scopes/{path.name}")
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("path", SHIPPED, ids=NAMES)
def test_every_template_is_marked_as_a_starting_point_and_complete(path):
    document = parse_scope(path.read_bytes(), source=path.name)
    meta = document.metadata
    assert meta.id == path.stem
    assert meta.template is True
    assert meta.summary.startswith("TEMPLATE: a starting point")
    assert "review" in meta.summary
    assert len(meta.not_covered) >= 3 and meta.sources and meta.authors
    assert not any("http" in source or "www." in source for source in meta.sources), "cite works, not made-up links"
    for key in KNOWN_SECTIONS:
        section = document.section(key)
        assert section is not None and len(section.prose) > 200, key
    assert len(document.glossary()) >= 8
    questions = document.section("example-questions")
    assert questions is not None
    asked = re.findall(r"^\d+\. .+A good answer attends to: ", questions.body, re.MULTILINE)
    assert len(asked) >= 3
    variation = document.section("variation")
    assert variation is not None
    for dimension in ("generation", "religion", "individual"):
        assert dimension in variation.body.lower()


@pytest.mark.parametrize("path", SHIPPED, ids=NAMES)
def test_every_template_round_trips(path):
    document = parse_scope(path.read_bytes())
    assert parse_scope(document.to_markdown()) == document
    assert parse_scope(document.to_markdown()).to_markdown() == document.to_markdown()


def test_list_templates_lists_the_shipped_templates_but_not_the_blank_one():
    templates = list_templates()
    assert [template.name for template in templates] == NAMES
    assert "_blank" not in NAMES
    first = templates[0]
    document = load_template(first.name)
    assert (first.title, first.summary, first.path) == (
        document.metadata.title,
        document.metadata.summary,
        TEMPLATES_DIR / f"{first.name}.md",
    )


def test_the_expected_templates_ship():
    assert {
        "indonesian-business-jakarta",
        "vietnamese-family-households",
        "yoruba-celebrations-lagos",
        "japanese-workplace-tokyo",
    } <= set(NAMES)


def test_load_template_returns_the_document():
    document = load_template("indonesian-business-jakarta")
    assert document.metadata.title == "Indonesian business culture (Jakarta offices)"
    assert load_template("indonesian-business-jakarta") is document  # cached until the file changes


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "..",
        ".",
        "",
        "Indonesian",
        "nonexistent",
        "indonesian-business-jakarta.md",
        "scopes/indonesian-business-jakarta",
        "indonesian-business-jakarta/../japanese-workplace-tokyo",
        "_blank",
        "indonesian-business-jakarta\x00",
        "x" * 10_000,
    ],
)
def test_load_template_refuses_names_that_are_not_templates(name):
    with pytest.raises(UnknownTemplateError) as raised:
        load_template(name)
    message = str(raised.value)
    assert message.startswith("there is no template named ")
    assert message.endswith("The templates are: " + ", ".join(NAMES))
    assert len(message) < 500
    assert isinstance(raised.value, ValueError)


def test_a_near_miss_gets_a_suggestion():
    with pytest.raises(UnknownTemplateError, match="Did you mean 'indonesian-business-jakarta'"):
        load_template("Indonesian")


def test_templates_never_leave_their_folder(tmp_path):
    folder = tmp_path / "scopes"
    folder.mkdir()
    outside = tmp_path / "outside.md"
    outside.write_bytes((TEMPLATES_DIR / "japanese-workplace-tokyo.md").read_bytes())
    (folder / "escape.md").symlink_to(outside)
    (folder / "inside.md").write_bytes((TEMPLATES_DIR / "japanese-workplace-tokyo.md").read_bytes())
    assert [template.name for template in list_templates(folder)] == ["inside"]
    with pytest.raises(UnknownTemplateError, match=r"The templates are: inside$"):
        load_template("escape", folder)
    with pytest.raises(UnknownTemplateError):
        load_template("../outside", folder)
    assert load_template("inside", folder).metadata.id == "japanese-workplace-tokyo"


def test_a_broken_template_is_left_out_of_the_list_and_fails_loudly(tmp_path, caplog):
    (tmp_path / "broken.md").write_text("+++\nid = 'broken'\n+++\n", encoding="utf-8")
    assert list_templates(tmp_path) == []
    assert "template broken.md is not usable" in caplog.text
    with pytest.raises(ScopeValidationError, match=r"scopes/broken\.md:3: title: is missing"):
        load_template("broken", tmp_path)


def test_no_templates_installed(tmp_path):
    with pytest.raises(UnknownTemplateError, match="no templates are installed"):
        load_template("anything", tmp_path / "missing")
    assert list_templates(tmp_path / "missing") == []


def test_validate_paths_accepts_the_shipped_folder():
    ok, report = validate_paths([TEMPLATES_DIR])
    assert ok, report
    assert report == f"{len(SHIPPED)} files checked, 0 problems"


# The blank template is deliberately incomplete: uploaded as is, it yields a to-do list of the fields
# to fill in; once they are filled, it parses, comments and all.

BLANK_FIELDS = ["id", "title", "summary", "community", "setting", "languages", "not_covered", "authors"]


def test_the_blank_template_as_shipped_lists_what_to_fill_in():
    problems = validate_scope(BLANK_TEMPLATE.read_bytes(), source="scopes/_blank.md")
    assert [problem.field for problem in problems] == BLANK_FIELDS
    assert all(problem.message in {"is empty", "is an empty list"} for problem in problems)
    assert all(problem.line is not None and problem.hint for problem in problems)


def test_the_blank_template_parses_once_filled_in():
    text = BLANK_TEMPLATE.read_text(encoding="utf-8")
    filled = (
        text.replace('id = ""', 'id = "vietnamese-family-hanoi"')
        .replace('title = ""', 'title = "Vietnamese family dynamics (Hanoi households)"')
        .replace('summary = """"""', 'summary = """Families in Hanoi: elders, parents and children under one roof."""')
        .replace('community = ""', 'community = "Vietnamese families in Hanoi"')
        .replace('setting = ""', 'setting = "Home life, meals, holidays"')
        .replace("languages = []", 'languages = ["vi", "en"]')
        .replace("not_covered = []", 'not_covered = ["workplaces"]')
        .replace("authors = []", 'authors = ["Lan (moderator)"]')
    )
    document = parse_scope(filled, source="filled.md")
    assert [section.key for section in document.sections] == list(KNOWN_SECTIONS)
    assert all(section.prose == "" for section in document.sections), "only comments until a community writes"
    assert "<!--" in document.sections[0].body  # comments are kept
    assert document.metadata.version_note is None and document.metadata.sources == ()
    assert "sufficiently scoped" in document.source_text
