"""Changing a stored scope (bot/scopes/manage.py) on a real database: concurrent edits, changes that are none."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import UserFacingError
from bot.scopes.manage import (
    ScopeCache,
    current_document,
    downloaded_version,
    edit_scope,
    upload_scope,
    use_template,
)
from bot.storage import NewScopeVersion, ScopeSource, SqliteStorage, StaleScope

GUILD = 7
MODERATOR = 1
TEMPLATE = "yoruba-celebrations-lagos"


async def started(storage: SqliteStorage) -> ScopeCache:
    await use_template(storage, GUILD, MODERATOR, TEMPLATE)
    return ScopeCache()


async def test_edits_of_two_sections_saved_at_once_are_both_kept(storage: SqliteStorage) -> None:
    cache = await started(storage)
    await asyncio.gather(
        edit_scope(storage, cache, GUILD, MODERATOR, section="Glossary", text="- **àṣẹ**: authority, blessing"),
        edit_scope(storage, cache, GUILD, 2, section="Values and tensions", text="Respect for elders, and change."),
    )
    current = await current_document(storage, cache, GUILD)
    assert current is not None
    version, document = current
    assert version.number == 3
    glossary, values = document.section("Glossary"), document.section("Values and tensions")
    assert glossary is not None and glossary.body == "- **àṣẹ**: authority, blessing"
    assert values is not None and values.body == "Respect for elders, and change."


async def test_a_change_based_on_an_old_version_is_refused_by_storage(storage: SqliteStorage) -> None:
    cache = await started(storage)
    current = await current_document(storage, cache, GUILD)
    assert current is not None
    old, document = current
    await edit_scope(storage, cache, GUILD, MODERATOR, section="Glossary", text="- **ẹ̀gbọ́n**: older sibling")
    stale = NewScopeVersion(
        GUILD, "s", "t", document.source_text, ScopeSource.EDIT, "late", MODERATOR, based_on=old.version_id
    )
    with pytest.raises(StaleScope):
        await storage.add_scope_version(stale)
    latest = await storage.current_scope(GUILD)
    assert latest is not None and latest.number == 2, "nothing stored"


async def test_an_edit_that_changes_nothing_stores_nothing(storage: SqliteStorage) -> None:
    cache = await started(storage)
    current = await current_document(storage, cache, GUILD)
    assert current is not None
    section = current[1].section("Norms and etiquette")
    assert section is not None
    with pytest.raises(UserFacingError, match=r"same as the section 'Norms and etiquette' .*version 1\); nothing"):
        await edit_scope(storage, cache, GUILD, MODERATOR, section="Norms and etiquette", text=section.body + "\n")
    with pytest.raises(UserFacingError, match="same as the summary"):
        await edit_scope(storage, cache, GUILD, MODERATOR, section=None, text=current[1].metadata.summary)
    latest = await storage.current_scope(GUILD)
    assert latest is not None and latest.number == 1


async def test_uploading_the_current_file_again_stores_nothing(storage: SqliteStorage) -> None:
    cache = await started(storage)
    current = await storage.current_scope(GUILD)
    assert current is not None
    data = current.content.encode()
    with pytest.raises(UserFacingError, match=r"scope\.md is the same as the current scope \(version 1\)"):
        await upload_scope(storage, cache, GUILD, MODERATOR, data, "scope.md")
    # One changed character is a change.
    change = await upload_scope(storage, cache, GUILD, MODERATOR, data.replace(b"Lagos", b"Lagos ", 1), "scope.md")
    assert change.version.number == 2


async def test_using_the_current_template_again_stores_nothing(storage: SqliteStorage) -> None:
    await started(storage)
    with pytest.raises(UserFacingError, match=rf"version 1\) is already the template '{TEMPLATE}'; nothing"):
        await use_template(storage, GUILD, MODERATOR, TEMPLATE)
    latest = await storage.current_scope(GUILD)
    assert latest is not None and latest.number == 1


@pytest.mark.parametrize(
    ("filename", "version"),
    [
        ("kopi-talk-test-v3.md", 3),
        ("kopi-talk-test-v12.MD", 12),
        ("kopi-talk-test-v3 (1).md", 3),  # a browser's second copy
        ("kopi-talk-test-v3_1.md", 3),  # the same, as Discord delivers it (spaces to `_`, parentheses removed)
        ("kopi-talk-test-v3_12.md", 3),
        ("kopi-talk-test-v3_draft.md", None),
        ("kopi-talk-test.md", None),
        ("scope-v3-draft.md", None),
        ("v3.md", None),
    ],
)
def test_the_version_a_file_was_downloaded_as_comes_from_its_name(filename, version):
    assert downloaded_version(filename) == version


def test_a_change_summary_names_renamed_and_reordered_sections_and_never_says_no_changes() -> None:
    """Each such upload is stored as a new version (and ends a running comparison): its history line said "no
    changes" for a well-known section renamed, sections moved, or comments edited."""
    from pathlib import Path

    from bot.scopes.manage import describe_change
    from bot.scopes.parser import parse_scope

    text = (Path(__file__).parents[2] / "scopes" / "indonesian-business-jakarta.md").read_text(encoding="utf-8")
    before = parse_scope(text)
    renamed = parse_scope(text.replace("## Norms and etiquette\n", "## Etiquette\n"))
    assert describe_change(before, renamed) == "renamed: Norms and etiquette → Etiquette"
    start, glossary = text.index("## Context and history"), text.index("## Glossary")
    end = text.index("## Example questions")
    moved = text[:start] + text[glossary:end] + text[start:glossary] + text[end:]
    assert describe_change(before, parse_scope(moved)) == "sections reordered"
    commented = parse_scope(text.replace("+++\n", "+++\n# Reviewed in December 2026.\n", 1))
    assert describe_change(before, commented) == "only comments, spacing or layout changed"
