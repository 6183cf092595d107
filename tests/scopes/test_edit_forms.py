"""Reading a scope edit form back from its ids after a restart (bot/scopes/edit_forms.py)."""

from __future__ import annotations

from bot.scopes.edit_forms import CUSTOM_ID_LIMIT, OrphanedEdit, field_id, form_id, orphaned_edit


def rows(field: str | None, value: str) -> list[dict[str, object]]:
    box: dict[str, object] = {"type": 4, "value": value}
    if field is not None:
        box["custom_id"] = field
    return [{"type": 1, "components": [box]}]


def test_a_form_of_this_process_is_left_to_its_form_object():
    data = {"custom_id": form_id("beef", 3, 7), "components": rows("summary", "text")}
    assert orphaned_edit(data, "beef") is None
    assert orphaned_edit({"custom_id": "something-else", "components": rows("summary", "x")}, "cafe") is None


def test_an_earlier_process_form_says_the_version_part_and_text():
    summary = {"custom_id": form_id("beef", 3, 7), "components": rows(field_id(None), "A new summary.")}
    assert orphaned_edit(summary, "cafe") == OrphanedEdit(7, None, "A new summary.")
    section = {"custom_id": form_id("beef", 4, 12), "components": rows(field_id("Glossary"), "- **x**: y")}
    assert orphaned_edit(section, "cafe") == OrphanedEdit(12, "Glossary", "- **x**: y")


def test_a_form_in_labels_is_read_too():
    labels = [{"type": 18, "component": {"type": 4, "custom_id": "section:Norms: at work", "value": "Be on time."}}]
    data = {"custom_id": form_id("beef", 1, 2), "components": labels}
    assert orphaned_edit(data, "cafe") == OrphanedEdit(2, "Norms: at work", "Be on time.")


def test_a_title_too_long_for_an_id_cannot_be_told_and_the_text_is_kept():
    title = "T" * CUSTOM_ID_LIMIT
    assert field_id(title) is None
    assert field_id("T" * (CUSTOM_ID_LIMIT - len("section:"))) == "section:" + "T" * (CUSTOM_ID_LIMIT - len("section:"))
    data = {"custom_id": form_id("beef", 1, 2), "components": rows("4f2a9c", "my long text")}
    assert orphaned_edit(data, "cafe") == OrphanedEdit(2, None, "my long text", known=False)
    assert len(form_id("f" * 8, 10**9, 10**9 - 1)) <= CUSTOM_ID_LIMIT
