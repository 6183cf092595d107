"""Themes are word groupings, and words differ between languages: the method says so always, and names the
languages when this period's comments are on answers in more than one (the answers' language cue)."""

from __future__ import annotations

from bot.digests.report import render_markdown
from bot.digests.stats import compute_digest
from tests.digests.test_stats import answer, comment, rating, rows

LIMITATION = (
    "Words are compared as written, whatever their language: comments in different languages share few words, so "
    "where members comment in more than one language the themes tend to group comments by language rather than by "
    "topic."
)


def commented(languages: list[str | None]):
    """Answer i in languages[i], each rated and commented on by one member."""
    answers = [answer(i, language=language) for i, language in enumerate(languages)]
    ratings = [rating(i, f"m{i}", 2) for i in range(len(languages))]
    comments = [comment(100 + i, i, f"m{i}", f"formal greeting words {i}") for i in range(len(languages))]
    return compute_digest(rows(answers, ratings, comments=comments), None, bootstrap=20)


def method(digest) -> str:
    return render_markdown(digest).split("### Method")[1].split("\n#")[0]


def test_comments_on_answers_in_several_languages_are_named_in_the_method():
    digest = commented(["id", "en", "vi", "en", None])
    assert digest.themes.method.endswith(
        f"{LIMITATION} Word groupings are a starting point for reading the comments, not a coding of them. This "
        "period's comments are on answers in 3 languages (en, id, vi, the language each question was asked in): "
        "read a theme's words for its language before its topic."
    )
    assert "answers in 3 languages (en, id, vi," in method(digest)


def test_one_language_states_the_limitation_only():
    digest = commented(["en", "en", None])
    assert LIMITATION in digest.themes.method
    assert "This period's comments are on answers in" not in digest.themes.method
    assert LIMITATION in method(digest)
