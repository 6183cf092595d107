"""Which terminal command the sandbox names under a message's controls (bot/sandbox/render.py)."""

from __future__ import annotations

from bot.feedback.forget_confirm import ForgetId
from bot.sandbox.render import command_hint


def button(custom_id: str, label: str) -> dict[str, object]:
    return {"type": 2, "custom_id": custom_id, "label": label}


def test_the_forget_confirmation_is_clicked_by_label_though_its_buttons_are_persistent():
    ids = [ForgetId(42, 1_780_000_000, confirm).build() for confirm in (True, False)]
    hint = command_hint([button(ids[0], "Delete everything"), button(ids[1], "Cancel")])
    assert hint == "/click Delete everything|Cancel"


def test_controls_with_a_command_of_their_own_are_not_offered_as_clicks():
    items = [button(f"cb:rate:7:{value}:3", label) for value, label in ((3, "Fits"), (2, "Partly"), (1, "No"))]
    items.append(button("cb:comment:7", "Comment"))
    hint = command_hint(items)
    assert "/click" not in hint and hint.startswith("/rate")
