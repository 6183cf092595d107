"""Picking a listed answer channel in `/answers channel-remove`, deleted ones included."""

from __future__ import annotations

from bot.answer_channels import MAX_CHOICES, choices, pick

ASK, MORE, GONE, NUMBERED = 11, 12, 13, 14
LISTED = (ASK, MORE, GONE, NUMBERED)
NAMES = {ASK: "ask", MORE: "Ask-More", NUMBERED: "2024"}  # GONE was deleted


def test_choices_name_existing_channels_and_deleted_ones_by_id():
    assert choices(LISTED, NAMES, "") == [
        ("#ask", "11"),
        ("#Ask-More", "12"),
        ("deleted channel 13", "13"),
        ("#2024", "14"),
    ]
    assert choices(LISTED, NAMES, "#ask-m") == [("#Ask-More", "12")]
    assert choices(LISTED, NAMES, "deleted") == [("deleted channel 13", "13")]
    assert choices(LISTED, NAMES, "13") == [("deleted channel 13", "13")]


def test_at_most_twenty_five_choices():
    listed = tuple(range(100, 140))
    assert len(choices(listed, {}, "")) == MAX_CHOICES


def test_pick_takes_an_id_a_mention_a_label_or_a_name():
    for typed in ("13", "<#13>", "deleted channel 13", " Deleted Channel 13 "):
        assert pick(LISTED, NAMES, typed) == GONE, typed
    assert pick(LISTED, NAMES, "#ask-more") == MORE
    assert pick(LISTED, NAMES, "ask") == ASK
    assert pick(LISTED, NAMES, "2024") == NUMBERED  # a name made of digits, not an id in the list


def test_pick_refuses_what_names_no_listed_channel():
    assert pick(LISTED, NAMES, "99") is None
    assert pick(LISTED, NAMES, "#general") is None
    assert pick((ASK, MORE), {ASK: "ask", MORE: "ask"}, "ask") is None  # two channels of that name


def test_channels_sharing_a_name_are_told_apart_by_their_id_and_not_picked_by_name():
    from bot.answer_channels import sharing_name

    listed, names = (21, 22, 23), {21: "ask", 22: "Ask", 23: "other"}
    assert choices(listed, names, "ask") == [("#ask (21)", "21"), ("#Ask (22)", "22")]
    assert choices(listed, names, "oth") == [("#other", "23")]
    assert pick(listed, names, "ask") is None
    assert sharing_name(listed, names, "#ASK") == [21, 22]
    assert pick(listed, names, "21") == 21
