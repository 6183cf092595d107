"""Scope edit forms that outlive the bot process that opened them.

A `/scope edit` form (a Discord modal) stays open on the moderator's screen for as long as they type. If the
bot restarts meanwhile, the new process has no form object for the submission, and without help Discord would
show "This interaction failed" and the moderator's text would be gone. So each form's ids say what it edits:

- the form's id: `culturebot:scope-edit:<process>:<serial>:<version>`, the process that opened it (a random token
  per start) and the scope version the moderator was shown;
- its text box's id: `summary`, or `section:<title>` (the part edited).

A submission whose form a live process opened goes to that form (`cogs/scope.py`'s `EditModal`). One opened by
an earlier process is read back from these ids: the part is edited as if the form had stayed open, starting from
that part's text in the version shown, so an edit made by someone else meanwhile is refused, not overwritten
(`edit_scope`'s `started_from`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

FORM_PREFIX = "culturebot:scope-edit:"
SUMMARY_FIELD = "summary"
SECTION_FIELD = "section:"
CUSTOM_ID_LIMIT = 100  # Discord's limit on a component's or a modal's custom_id
_FORM = re.compile(re.escape(FORM_PREFIX) + r"(?P<process>[0-9a-f]+):[0-9]+:(?P<version>[0-9]{1,9})")


@dataclass(frozen=True, slots=True)
class OrphanedEdit:
    """What a submitted form says, read from its ids and values: the version the moderator was shown, the part
    (None: the summary), their text, and whether the part could be told (a section title too long for an id)."""

    version: int
    section: str | None
    text: str
    known: bool = True


def form_id(process: str, serial: int, version: int) -> str:
    """The id of a form opened by `process` (its `serial`th form) on scope version `version`."""
    return f"{FORM_PREFIX}{process}:{serial}:{version}"


def field_id(section: str | None) -> str | None:
    """The text box's id naming the part it edits; None when a section's title is too long to fit in an id (the
    form then cannot be read back after a restart, and its text is given back instead)."""
    wanted = SUMMARY_FIELD if section is None else SECTION_FIELD + section
    return wanted if len(wanted) <= CUSTOM_ID_LIMIT else None


def orphaned_edit(data: Mapping[str, Any], process: str) -> OrphanedEdit | None:
    """A submitted form's edit when an earlier process opened it (`process`: this one's token); None when the
    submission is not a scope edit form, or is this process's own (its form object handles it)."""
    found = _FORM.fullmatch(str(data.get("custom_id", "")))
    if found is None or found["process"] == process:
        return None
    version = int(found["version"])
    values = list(_text_values(data.get("components") or ()))
    text = "\n\n".join(value for _, value in values)
    if len(values) == 1:
        field = values[0][0]
        if field == SUMMARY_FIELD:
            return OrphanedEdit(version, None, text)
        if field.startswith(SECTION_FIELD) and field != SECTION_FIELD:
            return OrphanedEdit(version, field.removeprefix(SECTION_FIELD), text)
    return OrphanedEdit(version, None, text, known=False)


def _text_values(components: Any) -> Iterator[tuple[str, str]]:
    """(custom_id, value) of the text boxes in a modal submission: in action rows (`components`) or, in Discord's
    newer form layout, in labels (`component`)."""
    for component in components if isinstance(components, list) else ():
        if not isinstance(component, dict):
            continue
        if isinstance(component.get("value"), str) and isinstance(component.get("custom_id"), str):
            yield component["custom_id"], component["value"]
        yield from _text_values(component.get("components"))
        if isinstance(component.get("component"), dict):
            yield from _text_values([component["component"]])
