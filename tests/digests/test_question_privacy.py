"""Members' questions in digests: shown in the reports, digest.json and the embed only when asked in public by a
member who allows quoting (as their consent stands when the rows are read); a private answer shows neither its
question nor its text. The data files keep every question, marked."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.digests.codebook import render_markdown as render_codebook
from bot.digests.report import render_html, render_json, render_markdown, write_digest_files
from bot.digests.rows import DigestRows
from bot.digests.stats import compute_digest
from bot.digests.summary import digest_embed
from bot.storage import ConsentLevel, NewAnswer, Outcome, Rating, RatingSource, SqliteStorage, sqlite_timestamp
from bot.storage.records import AnswerResult
from bot.storage.sqlite.digests import read_digest_periods
from tests.digests.test_stats import answer, rating, rows

GUILD = 7101
PRIVATE_Q = "SECRETPRIVATE my salary is low, should I ask my manager Ibu Sari for a raise?"
PRIVATE_A = "SECRETANSWER Asking Ibu Sari for a raise works best in a private meeting."
UNQUOTED_Q = "NOQUOTE How do I refuse my uncle's business offer politely?"
PUBLIC_Q = "SHOWN How do I greet a vendor at the warung?"
PUBLIC_A = "PUBLICANSWER Say Pak or Bu, with a smile."
PRIVATE_QUESTION = "(question not shown: asked privately)"
PRIVATE_ANSWER = "(answer not shown: asked privately)"
UNQUOTABLE_QUESTION = "(question not shown: the asker did not allow quoting)"


def period() -> DigestRows:
    """Three low-fit answers: a private one, a public one whose asker did not allow quoting, a public quotable one."""
    answers = [
        replace(answer(1, question=PRIVATE_Q, text=PRIVATE_A), private=True),
        replace(answer(2, question=UNQUOTED_Q, text="It depends on the family."), question_quotable=False),
        replace(answer(3, question=PUBLIC_Q, text=PUBLIC_A), question_quotable=True),
    ]
    ratings = [rating(1, "ana", 1), rating(2, "ana", 1), rating(3, "ana", 2)]
    return rows(answers, ratings)


def everything_shown(data: DigestRows) -> str:
    """Every text the digest's reports, digest.json and embed show."""
    digest = compute_digest(data, None)
    embed = digest_embed(digest, None, "culturebot digest #1")
    return "\n".join(
        [
            render_markdown(digest),
            render_html(digest),
            render_json(digest),
            json.dumps(embed.to_dict(), ensure_ascii=False),
        ]
    )


def test_private_and_unquotable_questions_are_withheld_from_every_rendering():
    data = period()
    shown = everything_shown(data)
    for hidden in ("SECRETPRIVATE", "Ibu Sari", "SECRETANSWER", "NOQUOTE"):
        assert hidden not in shown, hidden
    assert "SHOWN How do I greet a vendor" in shown and "PUBLICANSWER" in shown
    assert "It depends on the family." in shown  # a public answer's excerpt stays: the bot's own public output
    digest = compute_digest(data, None)
    notes = {note.answer_id: note for note in digest.lowest_fit}
    assert (notes[1].question, notes[1].answer_excerpt) == (PRIVATE_QUESTION, PRIVATE_ANSWER)
    assert (notes[1].private, notes[1].question_withheld) == (True, "private")
    assert (notes[2].question, notes[2].question_withheld) == (UNQUOTABLE_QUESTION, "not_quotable")
    assert (notes[3].question, notes[3].question_withheld) == (PUBLIC_Q, None)
    markdown = render_markdown(digest)
    lowest = markdown.split("## Lowest-fit answers, for follow-up")[1].split("\n## ")[0]
    assert "(question not shown: asked privately)" in lowest
    assert "(answer not shown: asked privately)" in lowest
    assert "(question not shown: the asker did not allow quoting)" in lowest
    # A placeholder is not presented as the member's words.
    assert "> (question not shown" not in lowest and f"> {PUBLIC_Q}" in lowest


def test_split_answers_withhold_questions_too():
    answers = [replace(answer(1, question=PRIVATE_Q, text=PRIVATE_A), private=True), answer(2, question=UNQUOTED_Q)]
    ratings = [rating(1, "ana", 1), rating(1, "budi", 3), rating(2, "ana", 1), rating(2, "budi", 3)]
    digest = compute_digest(rows(answers, ratings), None)
    assert len(digest.disagreement.examples) == 2
    shown = everything_shown(rows(answers, ratings))
    assert "SECRETPRIVATE" not in shown and "SECRETANSWER" not in shown and "NOQUOTE" not in shown


def test_a_purged_question_reads_as_no_text_not_as_withheld():
    digest = compute_digest(rows([answer(1, question="")], [rating(1, "ana", 1)]), None)
    [note] = digest.lowest_fit
    assert (note.question, note.question_withheld) == ("", None)
    assert "(no text)" in render_markdown(digest)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_data_files_keep_every_question_marked(tmp_path: Path):
    write_digest_files(period(), None, tmp_path, bootstrap=50)
    table = read_csv(tmp_path / "answers.csv")
    assert [row["question"] for row in table] == [PRIVATE_Q, UNQUOTED_Q, PUBLIC_Q]
    assert table[0]["answer"] == PRIVATE_A
    assert list(table[0])[-2:] == ["parent_answer_id", "question_quotable"]  # appended
    assert [(row["private"], row["question_quotable"]) for row in table] == [
        ("true", "false"),
        ("false", "false"),
        ("false", "true"),
    ]
    records = [json.loads(line) for line in (tmp_path / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [record["question_quotable"] for record in records] == [False, False, True]
    # Not in the reports beside them.
    for name in ("report.md", "report.html", "digest.json"):
        assert "SECRETPRIVATE" not in (tmp_path / name).read_text(encoding="utf-8"), name


def test_the_codebook_says_where_questions_are_shown():
    codebook = render_codebook()
    assert "| `question_quotable` |" in codebook
    assert "the digest's reports show it only where question_quotable is true" in codebook


async def stored(storage: SqliteStorage, asker: str, question: str, *, private: bool = False) -> None:
    answer_id = await storage.start_answer(
        NewAnswer(
            guild_id=GUILD,
            channel_id=100,
            question_message_id=None,
            asker_hash=asker,
            question=question,
            model="fake-model",
            cues={"source": "rules"},
            ephemeral=private,
        )
    )
    await storage.finish_answer(answer_id, AnswerResult("An answer.", Outcome.OK))
    await storage.put_rating(Rating(answer_id, asker, 1, 3, True, RatingSource.BUTTON))


@pytest.mark.parametrize("read", ["storage", "worker"])
async def test_storage_reads_whether_each_question_may_be_shown_as_consent_stands_now(tmp_path: Path, read: str):
    db = tmp_path / "bot.sqlite3"
    storage = await SqliteStorage.open(db)
    try:
        await storage.migrate()
        await storage.ensure_guild(GUILD, "Kopi Talk")
        for asker, level in (("quoter", "quotes"), ("commenter", "comments"), ("decliner", "declined")):
            await storage.set_consent(GUILD, asker, ConsentLevel(level), "2.1")
        # Another server's consent of the same member does not count here.
        await storage.set_consent(GUILD + 1, "commenter", ConsentLevel.QUOTES, "2.1")
        # Quotes chosen under the first notice, which spoke of comments only, do not cover questions.
        await storage.set_consent(GUILD, "old-quoter", ConsentLevel.QUOTES, "1.3")
        await stored(storage, "quoter", "Public, quotable?")
        await stored(storage, "quoter", PRIVATE_Q, private=True)
        await stored(storage, "commenter", "Public, not quotable?")
        await stored(storage, "decliner", "Declined?")
        await stored(storage, "never-chose", "Never chose?")
        await stored(storage, "old-quoter", "Quotes under the old notice?")
        start = sqlite_timestamp(datetime.now(UTC) - timedelta(days=1))
        end = sqlite_timestamp(datetime.now(UTC) + timedelta(minutes=1))

        async def answer_rows() -> list[tuple[str, bool, bool]]:
            if read == "storage":
                data = await storage.digest_rows(GUILD, start, end)
            else:
                data, _ = read_digest_periods(
                    db, GUILD, start, end, sqlite_timestamp(datetime.now(UTC) - timedelta(days=2))
                )
            return [(a.question, a.private, a.question_quotable) for a in data.answers]

        assert await answer_rows() == [
            ("Public, quotable?", False, True),
            (PRIVATE_Q, True, False),
            ("Public, not quotable?", False, False),
            ("Declined?", False, False),
            ("Never chose?", False, False),
            ("Quotes under the old notice?", False, False),
        ]
        # A member who withdraws quoting hides their questions from the next digest made.
        await storage.set_consent(GUILD, "quoter", ConsentLevel.COMMENTS, "2.1")
        assert [quotable for _, _, quotable in await answer_rows()] == [False] * 6
    finally:
        await storage.close()
