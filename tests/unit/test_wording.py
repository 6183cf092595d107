from __future__ import annotations

from bot.wording import counted


def test_counted_is_singular_only_for_one():
    assert [counted(n, "rating") for n in (0, 1, 2)] == ["0 ratings", "1 rating", "2 ratings"]
    assert [counted(n, "reply", "replies") for n in (1, 3)] == ["1 reply", "3 replies"]


def test_none_in_any_case_clears_a_text_setting_and_other_text_is_trimmed():
    from bot.wording import cleared

    assert cleared(" None ") is None and cleared("none") is None
    assert cleared("  Uni A  ") == "Uni A" and cleared("nonetheless") == "nonetheless"
