"""Theme labels and top words never rest on one member's words: a word only one member wrote (a name, a rare
word) is not shown, even when it is the heaviest of its theme; which themes are new does not change."""

from __future__ import annotations

import json

import numpy as np

from bot.digests.commentary import NO_LABEL
from bot.digests.report import render_json, render_markdown
from bot.digests.stats import compute_digest
from bot.digests.themes import find_themes, shared_by_members, tfidf
from tests.digests.test_stats import FOOD, answer, comment, member, rows

# Greeting comments that each use two of four shared words; Ana's three also name "wayan" twice (and "says" and
# "knows"), which makes "wayan" the heaviest word of their theme.
GREETINGS = [
    "honorific greeting",
    "greeting formal",
    "formal elder",
    "elder honorific",
    "honorific formal",
    "greeting elder",
]
WRITERS = ["ana", "budi", "ana", "citra", "ana", "budi"]
FOOD_WRITERS = ["ana", "budi", "citra"] * 2


def greeting_texts() -> list[str]:
    named = " as wayan says, wayan knows"
    return [text + (named if who == "ana" else "") for text, who in zip(GREETINGS, WRITERS, strict=True)]


def period_comments(first_id: int, *, ana_quotable: bool = False):
    texts = greeting_texts() + FOOD
    writers = WRITERS + FOOD_WRITERS
    return [
        comment(first_id + i, 1, who, text, quotable=ana_quotable or who != "ana")
        for i, (text, who) in enumerate(zip(texts, writers, strict=True))
    ]


def test_the_heaviest_word_of_one_member_is_not_a_label():
    texts = greeting_texts() + FOOD
    finding = find_themes(texts, authors=[member(who) for who in WRITERS + FOOD_WRITERS], seed=0)
    greeting = next(theme for theme in finding.themes if "wayan" in theme.terms)
    assert greeting.terms[0] == "wayan"  # what the label would have been
    assert greeting.shared_terms == ("elder", "greeting", "formal", "honorific")
    assert not {"wayan", "says", "knows"} & set(greeting.shared_terms)


def test_one_members_words_reach_no_report_label_top_words_or_json():
    digest = compute_digest(rows([answer(1)], comments=period_comments(1)), None)
    labels = {theme.label for theme in digest.themes.themes}
    assert "elder · greeting · formal" in labels
    for theme in digest.themes.themes:
        assert "wayan" not in theme.label and "wayan" not in theme.terms
    # Ana did not allow quoting: no file shows her words.
    assert "wayan" not in render_markdown(digest)
    assert "wayan" not in render_json(digest)
    assert all(quote.theme is None or "wayan" not in quote.theme for quote in digest.quotes)
    method = json.loads(render_json(digest))["themes"]["method"]
    assert "at least two different members used in their comments" in method
    assert "a word only one member wrote (a name, a rare word) is never shown" in render_markdown(digest)


def test_a_theme_of_one_members_comments_has_no_label_words():
    comments = [comment(i, 1, WRITERS[i], text) for i, text in enumerate(GREETINGS)]
    comments += [comment(100 + i, 1, "dewi", text) for i, text in enumerate(FOOD)]  # every food comment Dewi's
    digest = compute_digest(rows([answer(1)], comments=comments), None)
    food = next(theme for theme in digest.themes.themes if theme.size == 6 and theme.example_comment_ids[0] >= 100)
    assert (food.label, food.terms) == (NO_LABEL, ())


def test_which_themes_are_new_does_not_depend_on_who_wrote_the_words():
    """The same comments, once with Ana's single-member words and once each by a member of their own (no word
    hidden): the same groups, the same words compared, the same themes new."""
    previous = rows([answer(1)], comments=period_comments(500), previous=True)
    current = rows([answer(1)], comments=period_comments(1))
    shown = compute_digest(current, previous).themes

    def everyone_apart(rows_of):
        return [comment(c.comment_id, 1, f"m{c.comment_id}", c.text, quotable=True) for c in rows_of.comments]

    apart = compute_digest(
        rows([answer(1)], comments=everyone_apart(current)),
        rows([answer(1)], comments=everyone_apart(previous), previous=True),
    ).themes
    assert [(t.size, t.example_comment_ids, t.is_new) for t in shown.themes] == [
        (t.size, t.example_comment_ids, t.is_new) for t in apart.themes
    ]
    assert [t.is_new for t in shown.themes] == [False, False]
    # With every word shown, "wayan" leads the greeting theme; with Ana's hidden, it does not appear.
    assert any(t.terms[0] == "wayan" for t in apart.themes)
    assert not any("wayan" in t.terms for t in shown.themes)


def test_words_only_members_who_did_not_allow_quoting_wrote_are_not_shown():
    """Members who allow comments but not quotes are told the reports only count their comments: a word two of them
    wrote is not shown, though it still groups their comments; one a quoting member wrote too is."""
    texts = greeting_texts() + FOOD
    writers = [f"m{i}" for i in range(len(texts))]  # every comment its own member: every word is shared
    quotable = ["wayan" not in text for text in texts]  # the three naming Wayan did not allow quoting
    hidden = find_themes(texts, authors=writers, seed=0, quotable=quotable)
    shown = find_themes(texts, authors=writers, seed=0)
    assert [theme.members for theme in hidden.themes] == [theme.members for theme in shown.themes]
    greeting = next(theme for theme in hidden.themes if "wayan" in theme.terms)
    assert "wayan" in next(t for t in shown.themes if t.members == greeting.members).shared_terms
    assert not {"wayan", "says", "knows"} & set(greeting.shared_terms)
    assert {"elder", "greeting", "formal", "honorific"} <= set(greeting.shared_terms)


def test_shared_by_members_counts_distinct_authors_per_word():
    texts = ["kopi tubruk", "kopi susu", "tubruk pahit", "susu manis", "manis pahit"]
    authors = [member(who) for who in ("ana", "ana", "ana", "budi", "budi")]
    docs = tfidf(texts)
    shared = dict(zip(docs.vocabulary, shared_by_members(docs, authors).tolist(), strict=True))
    # kopi and tubruk: only Ana's comments; susu: Ana and Budi; manis: only Budi's; pahit: Ana and Budi.
    assert shared == {"kopi": False, "manis": False, "pahit": True, "susu": True, "tubruk": False}
    assert shared_by_members(docs, [member(f"m{i}") for i in range(5)]).all()
    assert not shared_by_members(docs, [member("ana")] * 5).any()
    assert isinstance(shared_by_members(docs, authors), np.ndarray)
