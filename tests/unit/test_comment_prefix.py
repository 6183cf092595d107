"""Which replies are comments: the prefix in any case and in the forms keyboards type it, after invisible characters;
and what counts as empty."""

from __future__ import annotations

import pytest

from bot.feedback.comments import clean_comment, reply_comment_text
from bot.wording import has_visible_text

BOT = 5


@pytest.mark.parametrize(
    ("content", "comment"),
    [
        ("fit: too formal", " too formal"),
        ("<@5> FIT: too formal", " too formal"),
        ("fit：太正式了", "太正式了"),  # the full-width colon Chinese and Japanese keyboards type
        ("ｆｉｔ： ok", " ok"),  # full-width letters
        ("\u200ffit: رسمي جداً", " رسمي جداً"),  # a right-to-left mark first
        ("\ufeff\u200b fit: x", " x"),  # a byte-order mark and a zero-width space first
        ("fitness is good", None),
        ("fit", None),
        ("fít: x", None),  # another word, not the prefix with an accent
        ("How do I fit in? fit: later", None),
    ],
)
def test_reply_comments_are_recognised_as_members_type_them(content, comment):
    assert reply_comment_text(content, "fit:", BOT) == comment


def test_a_prefix_with_an_accent_matches_composed_or_decomposed():
    for typed in ("café: good", "cafe\u0301: good"):
        for prefix in ("café:", "cafe\u0301:"):
            assert reply_comment_text(typed, prefix, BOT) == " good"


def test_text_of_invisible_characters_only_is_empty():
    assert not has_visible_text(" \u200b\u200f\u2060\ufeff ")
    assert has_visible_text("\u200b🙂") and has_visible_text("ok")
    with pytest.raises(Exception, match="empty"):
        clean_comment("\u200b \u2060")
