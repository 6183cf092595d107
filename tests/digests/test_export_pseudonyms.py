"""The data files give members a pseudonym of each server's own, derived one way from the stored one: the tables of
one server still join, the files of two servers do not link a member; the codebook says honestly what a pseudonym
does and does not protect."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import replace
from pathlib import Path

from bot.digests.codebook import render_markdown as render_codebook
from bot.digests.report import write_exports
from tests.digests.test_stats import answer, comment, member, rating, reason, rows


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def server_pseudonym(guild_id: int, stored: str) -> str:
    """As the codebook describes it: SHA-256 of the server's id and the stored pseudonym, 32 hex characters."""
    return hashlib.sha256(f"culturebot-export:{guild_id}:{stored}".encode()).hexdigest()[:32]


def test_exported_pseudonyms_are_the_servers_own_and_join_within_it(tmp_path: Path):
    ana = member("ana")
    answers = [replace(answer(1), asker_hash=ana), replace(answer(2), asker_hash="forgotten-2")]
    ratings = [rating(1, "ana", 1), rating(1, "budi", 3), rating(2, "ana", 2)]
    files = {}
    for guild_id in (42, 43):
        data = replace(
            rows(answers, ratings, reasons=[reason(1, "ana", "too generic")], comments=[comment(1, 1, "ana", "Hm")]),
            guild_id=guild_id,
        )
        folder = tmp_path / str(guild_id)
        write_exports(data, folder)
        files[guild_id] = {
            name: read_csv(folder / f"{name}.csv") for name in ("answers", "ratings", "reasons", "comments")
        }
    for guild_id, tables in files.items():
        exported = server_pseudonym(guild_id, ana)
        assert tables["answers"][0]["asker_hash"] == exported != ana
        assert tables["answers"][1]["asker_hash"] == "forgotten-2"  # linked to nobody: left as it is
        # The same member has the same pseudonym in every file of the server: the tables still join.
        assert [row["rater_hash"] for row in tables["ratings"] if row["answer_id"] == "2"] == [exported]
        assert tables["reasons"][0]["rater_hash"] == tables["comments"][0]["rater_hash"] == exported
        stored = {ana, member("budi")}
        assert stored.isdisjoint(
            row["rater_hash"] for name in ("ratings", "reasons", "comments") for row in tables[name]
        )
    # Another server's files give the same members other pseudonyms.
    assert {row["rater_hash"] for row in files[42]["ratings"]}.isdisjoint(
        row["rater_hash"] for row in files[43]["ratings"]
    )


def test_the_codebook_no_longer_claims_pseudonyms_cannot_be_traced():
    codebook = render_codebook()
    assert "cannot be traced back" not in codebook
    assert "pseudonymised, not anonymous" in codebook
    assert "Share the files only with the research team" in codebook
    assert "Before publishing" in codebook
    assert "other pseudonyms in other servers' files" in codebook
