"""Comments of members who did not allow quoting never reach the digest's reports, embed or digest.json: they are
counted there, and only the data files (the research team's rows) hold their text.

The fixture, by hand:

    answer 1: ana "Does not fit" (fit 0), budi "Fits" (fit 1): mean 0.5, 2 ratings, split (top and bottom).
              Comments: ana (quotable), budi and citra (not quotable).
    answer 2: ana "Partly fits" (fit 0.5): mean 0.5, 1 rating. One comment, by dewi (not quotable).
    answer 3: ana "Fits": mean 1, not a low fit. Ten comments sharing words (themes need 8), one of them (eka's)
              quotable.

Lowest fit: answers 1 and 2 (mean 0.5 each; more ratings first), answer 3 left out (all at the top). Split:
answer 1. Every comment not allowed to be quoted carries a marker word used once ("hidden1", …), so that no theme
label (words shared by two or more comments) can carry it either.
"""

from __future__ import annotations

import json

from bot.digests.model import CommentNote
from bot.digests.report import render_html, render_json, render_markdown
from bot.digests.stats import compute_digest
from bot.digests.summary import digest_embed
from tests.digests.test_stats import answer, comment, rating, rows

HIDDEN = [f"hidden{i}" for i in range(1, 13)]


def fixture_rows():
    answers = [answer(1), answer(2), answer(3)]
    ratings = [rating(1, "ana", 1), rating(1, "budi", 3), rating(2, "ana", 2), rating(3, "ana", 3)]
    comments = [
        comment(1, 1, "ana", "Too formal for a warung, bapak would laugh"),
        comment(2, 1, "budi", f"My uncle {HIDDEN[0]} would never say this", quotable=False),
        comment(3, 1, "citra", f"Private remark {HIDDEN[1]}", quotable=False),
        comment(4, 2, "dewi", f"Only for the researchers {HIDDEN[2]}", quotable=False),
        *(
            comment(10 + i, 3, f"m{i}", f"honorific bapak greeting formal elder {HIDDEN[3 + i]}", quotable=False)
            for i in range(9)
        ),
        comment(30, 3, "eka", "honorific bapak greeting formal elder, nicely put"),
    ]
    return rows(answers, ratings, comments=comments)


def test_answer_notes_show_only_quotable_comments_and_count_the_others():
    digest = compute_digest(fixture_rows(), None)

    first, second = digest.lowest_fit
    assert (first.answer_id, second.answer_id) == (1, 2)
    assert first.comments == (
        CommentNote(1, "Member A", "Too formal for a warung, bapak would laugh", "2026-11-18T13:00:00.000Z"),
    )
    assert (first.more_comments, first.unquotable_comments) == (0, 2)
    assert (second.comments, second.more_comments, second.unquotable_comments) == ((), 0, 1)
    # The split answer is the same note: the same comments shown, the same count.
    [split] = digest.disagreement.examples
    assert split == first
    # Quotes: ana's and eka's comments only; no alias was given to a member whose comment is not shown.
    assert sorted(quote.comment_id for quote in digest.quotes) == [1, 30]
    assert sorted(quote.member for quote in digest.quotes) == ["Member A", "Member B"]
    assert digest.themes.themes, "the ten comments on answer 3 make a theme"


def test_reports_json_and_embed_carry_no_unquotable_text():
    digest = compute_digest(fixture_rows(), None)
    markdown = render_markdown(digest)
    page = render_html(digest)
    document = render_json(digest)
    embed = json.dumps(digest_embed(digest, None, "footer").to_dict(), ensure_ascii=False)

    for text in (markdown, page, document, embed):
        assert not [marker for marker in HIDDEN if marker in text]
    assert "not for quoting" not in markdown
    lowest = markdown.split("## Lowest-fit answers, for follow-up")[1].split("\n## ")[0]
    assert "- Member A, comment 1: Too formal for a warung, bapak would laugh" in lowest
    assert (
        "- 2 more comments not shown: their authors did not allow quoting (comments.csv in the data files holds them)"
        in lowest
    )
    assert "- 1 comment not shown: its author did not allow quoting (comments.csv in the data files holds it)" in lowest
    split = markdown.split("## Disagreement")[1].split("\n## ")[0]
    assert "2 more comments not shown: their authors did not allow quoting" in split
    assert "1 comment not shown: its author did not allow quoting" in page
    plain = json.loads(document)
    assert [note["unquotable_comments"] for note in plain["lowest_fit"]] == [2, 1]
    assert [[c["comment_id"] for c in note["comments"]] for note in plain["lowest_fit"]] == [[1], []]
    assert all("quotable" not in c for note in plain["lowest_fit"] for c in note["comments"])


def test_the_count_line_reads_right_for_one_and_many():
    from bot.digests.sections import unquotable_line  # new with this rule: imported here, not to fail the rest

    assert unquotable_line(1, shown=False) == (
        "1 comment not shown: its author did not allow quoting (comments.csv in the data files holds it)"
    )
    assert unquotable_line(3, shown=True) == (
        "3 more comments not shown: their authors did not allow quoting (comments.csv in the data files holds them)"
    )
