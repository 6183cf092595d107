"""The data files say which model answered, which answers were private and which continued a conversation;
digest.json says which culturebot made it and in which format."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.digests.codebook import render_markdown as render_codebook
from bot.digests.report import render_json, write_digest_files
from bot.digests.stats import compute_digest
from bot.storage import NewAnswer, Outcome, SqliteStorage, sqlite_timestamp
from bot.storage.records import AnswerResult
from bot.storage.sqlite.digests import read_digest_periods
from tests.digests.test_stats import answer, rating, rows

GUILD = 7102


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_answers_files_end_with_model_private_and_parent(tmp_path: Path):
    answers = [
        replace(answer(1, question="Private?"), model="gpt-4o-mini", private=True),
        replace(answer(2, question="Follow-up?"), model="llama3.1", parent_answer_id=1),
    ]
    write_digest_files(rows(answers, [rating(1, "ana", 1)]), None, tmp_path, bootstrap=50)
    table = read_csv(tmp_path / "answers.csv")
    # The columns as before, in their order, then the new ones.
    assert list(table[0])[:16] == [
        "answer_id",
        "channel_id",
        "created_at",
        "asker_hash",
        "question",
        "answer",
        "outcome",
        "scope_version",
        "language",
        "setting",
        "tokens_in",
        "tokens_out",
        "tokens_estimated",
        "ttft_ms",
        "total_ms",
        "arm",
    ]
    assert list(table[0])[16:19] == ["model", "private", "parent_answer_id"]
    assert [(row["model"], row["private"], row["parent_answer_id"]) for row in table] == [
        ("gpt-4o-mini", "true", ""),
        ("llama3.1", "false", "1"),
    ]
    records = [json.loads(line) for line in (tmp_path / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["model"], r["private"], r["parent_answer_id"]) for r in records] == [
        ("gpt-4o-mini", True, None),
        ("llama3.1", False, 1),
    ]


def test_digest_json_says_which_culturebot_and_format_made_it():
    document = json.loads(render_json(compute_digest(rows([answer(1)], [rating(1, "ana", 1)]), None)))
    assert document["format_version"] == 2
    assert document["culturebot_version"] and document["culturebot_version"] != "unknown"
    codebook = render_codebook()
    assert "culturebot_version" in codebook and "format_version" in codebook
    for column in ("model", "private", "parent_answer_id"):
        assert f"| `{column}` |" in codebook


@pytest.mark.parametrize("read", ["storage", "worker"])
async def test_storage_reads_the_model_privacy_and_parent_of_each_answer(tmp_path: Path, read: str):
    db = tmp_path / "bot.sqlite3"
    storage = await SqliteStorage.open(db)
    try:
        await storage.migrate()
        await storage.ensure_guild(GUILD, "Kopi Talk")
        ids: list[int] = []
        for model, private in (("gpt-4o-mini", False), ("llama3.1", True)):
            answer_id = await storage.start_answer(
                NewAnswer(
                    guild_id=GUILD,
                    channel_id=100,
                    question_message_id=None,
                    asker_hash="asker",
                    question="A question?",
                    model=model,
                    ephemeral=private,
                    parent_answer_id=ids[-1] if ids else None,
                )
            )
            await storage.finish_answer(answer_id, AnswerResult("An answer.", Outcome.OK))
            ids.append(answer_id)
        start = sqlite_timestamp(datetime.now(UTC) - timedelta(days=1))
        end = sqlite_timestamp(datetime.now(UTC) + timedelta(minutes=1))
        if read == "storage":
            data = await storage.digest_rows(GUILD, start, end)
        else:
            data, _ = read_digest_periods(
                db, GUILD, start, end, sqlite_timestamp(datetime.now(UTC) - timedelta(days=2))
            )
        assert [(a.model, a.private, a.parent_answer_id) for a in data.answers] == [
            ("gpt-4o-mini", False, None),
            ("llama3.1", True, ids[0]),
        ]
    finally:
        await storage.close()
