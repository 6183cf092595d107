"""`culturebot digest` as a real process against real database files: it only reads the database, refuses files it
cannot use with one line saying what to do, lists exactly the files it wrote, and counts late feedback."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot import cli
from bot.exit_status import EX_CONFIG
from bot.storage import CommentSource, ConsentLevel, NewAnswer, NewComment, Outcome, Rating, RatingSource, SqliteStorage
from bot.storage.migrations import MIGRATIONS_DIR, load_migrations
from bot.storage.records import AnswerResult

GUILD = 7001
ASKED = "2025-03-03T10:00:00.000Z"  # every answer is asked in the week below
RATED = "2025-03-04T10:00:00.000Z"  # and rated in it, except the late ratings (rated when the test runs)
WEEK = ["--from", "2025-03-01", "--to", "2025-03-07"]
LATE_RATERS = 2


def run_digest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUREBOT_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", "digest", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def digest_args(db: Path, out: Path, guild: int | str = GUILD, *more: str) -> list[str]:
    return ["--db", str(db), "--guild", str(guild), *WEEK, "--out", str(out), *more]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == EX_CONFIG, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("culturebot: ")
    return lines[0]


def tables(db: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")]


async def fill(db: Path, migrations: Path = MIGRATIONS_DIR) -> None:
    """A server's answers, ratings, reasons and comments in the week of WEEK, and LATE_RATERS ratings (one with a
    reason) and a comment given after it; another server too."""
    storage = await SqliteStorage.open(db)
    try:
        await storage.migrate(migrations)
        await storage.ensure_guild(GUILD, "Kopi Talk")
        await storage.ensure_guild(GUILD + 1, "Teh\nTalk")
        for rater in range(3):
            await storage.set_consent(GUILD, f"rater-{rater}", ConsentLevel.QUOTES, "1.1")
        answers = []
        for index in range(6):
            answer_id = await storage.start_answer(
                NewAnswer(
                    guild_id=GUILD,
                    channel_id=100,
                    question_message_id=None,
                    asker_hash=f"asker-{index % 2}",
                    question=f"How do I greet my manager, take {index}?",
                    model="fake-model",
                    cues={"source": "rules", "language": "en", "setting": "workplace"},
                )
            )
            await storage.finish_answer(answer_id, AnswerResult(f"It depends ({index}).", Outcome.OK, tokens_in=10))
            answers.append(answer_id)
            for rater in range(2):
                value = 1 + (index + rater) % 3
                await storage.put_rating(Rating(answer_id, f"rater-{rater}", value, 3, False, RatingSource.BUTTON))
                if value == 1:
                    await storage.set_reasons(answer_id, f"rater-{rater}", ["too generic"])
            await storage.add_comment(NewComment(answer_id, "rater-0", "formal greeting", CommentSource.MODAL, True))
    finally:
        await storage.close()
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE answers SET created_at = ?", (ASKED,))
        conn.execute("UPDATE ratings SET created_at = ?, updated_at = ?", (RATED, RATED))
        conn.execute("UPDATE comments SET created_at = ?", (RATED,))
    storage = await SqliteStorage.open(db)
    try:
        for rater in range(LATE_RATERS):
            await storage.put_rating(Rating(answers[rater], "rater-2", 3, 3, False, RatingSource.BUTTON))
        await storage.put_rating(Rating(answers[0], "rater-0", 3, 3, False, RatingSource.BUTTON))  # was 1
        await storage.set_reasons(answers[0], "rater-0", ["stereotyped"])
        await storage.add_comment(NewComment(answers[1], "rater-2", "late thought", CommentSource.MODAL, True))
    finally:
        await storage.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("template") / "bot.sqlite3"
    asyncio.run(fill(db))
    return db


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bot.sqlite3"
    shutil.copyfile(template, copy)
    return copy


def listed_files(stdout: str) -> list[str]:
    first, *paths = stdout.strip().splitlines()
    assert first.startswith(f"wrote {len(paths)} files to ")
    return [Path(line.strip()).name for line in paths]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_writes_and_lists_every_file_without_changing_the_database(db, tmp_path):
    before = sha256(db)
    out = tmp_path / "out"
    result = run_digest(tmp_path, *digest_args(db, out))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    listed = listed_files(result.stdout)
    assert listed == sorted(os.listdir(out))
    assert "digest.json" in listed and "data.zip" in listed and "report.md" in listed
    assert sha256(db) == before


def test_the_listing_names_only_the_files_it_wrote(db, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = run_digest(tmp_path, *digest_args(db, out))
    assert result.returncode == 0, result.stderr
    listed = listed_files(result.stdout)
    assert "notes.txt" not in listed
    assert sorted([*listed, "notes.txt"]) == sorted(os.listdir(out))


def test_feedback_given_after_the_period_counts_unless_asked_otherwise(db, tmp_path):
    everything = run_digest(tmp_path, *digest_args(db, tmp_path / "now"))
    assert everything.returncode == 0, everything.stderr
    assert "with the ratings and comments given before 20" in everything.stdout.splitlines()[0]
    at_the_end = run_digest(tmp_path, *digest_args(db, tmp_path / "end", GUILD, "--feedback-until", "2025-03-07"))
    assert at_the_end.returncode == 0, at_the_end.stderr
    assert "given before 2025-03-08T00:00:00.000Z" in at_the_end.stdout.splitlines()[0]

    late = csv_rows(tmp_path / "now" / "ratings.csv")
    on_time = csv_rows(tmp_path / "end" / "ratings.csv")
    # The new ratings, and one changed after the period: counted now with its new value (and new reason); as of
    # the period's end not at all (a rating counts with its latest value, as in digest_rows).
    assert len(late) == 12 + LATE_RATERS and len(on_time) == 12 - 1
    assert len(csv_rows(tmp_path / "now" / "comments.csv")) == 7
    assert len(csv_rows(tmp_path / "end" / "comments.csv")) == 6
    assert any(row["tag"] == "stereotyped" for row in csv_rows(tmp_path / "now" / "reasons.csv"))
    assert not any(row["tag"] == "stereotyped" for row in csv_rows(tmp_path / "end" / "reasons.csv"))


def test_feedback_until_before_the_last_day_is_refused(db, tmp_path):
    result = run_digest(tmp_path, *digest_args(db, tmp_path / "out", GUILD, "--feedback-until", "2025-03-06"))
    assert one_error_line(result) == (
        "culturebot: --feedback-until 2025-03-06 is before --to 2025-03-07: give --to's date or a later one (or leave "
        "it out to count the feedback given until now)"
    )
    assert not (tmp_path / "out").exists()


def test_dates_in_the_wrong_order_are_echoed_with_what_to_do(db, tmp_path):
    args = ["--db", str(db), "--guild", str(GUILD), "--from", "2025-03-07", "--to", "2025-03-01"]
    result = run_digest(tmp_path, *args, "--out", str(tmp_path / "out"))
    assert one_error_line(result) == "culturebot: --to 2025-03-01 is before --from 2025-03-07: swap them"
    assert not (tmp_path / "out").exists()


def period_args(db: Path, out: Path, first: str, last: str, *more: str) -> list[str]:
    return ["--db", str(db), "--guild", str(GUILD), "--from", first, "--to", last, "--out", str(out), *more]


def test_a_period_given_as_dates_and_times_is_that_period_exactly_and_reproduces_from_its_digest_json(db, tmp_path):
    # A weekly digest on Mondays at 17:00 in Jakarta (10:00 UTC, when the week's answers were asked), as the
    # scheduled digest sent at the period's end would have it.
    args = ["--timezone", "Asia/Jakarta", "--feedback-until", "2025-03-10 17:00"]
    result = run_digest(tmp_path, *period_args(db, tmp_path / "a", "2025-03-03 17:00", "2025-03-10T17:00", *args))
    assert result.returncode == 0, result.stderr
    assert (
        f"(server {GUILD}, 2025-03-03 17:00 Asia/Jakarta to 2025-03-10 17:00 Asia/Jakarta (end excluded), with the "
        "ratings and comments given before 2025-03-10T10:00:00.000Z)"
    ) in result.stdout.splitlines()[0]
    made = json.loads((tmp_path / "a" / "digest.json").read_text())
    assert (made["start"], made["end"], made["day_basis"]) == (
        "2025-03-03T10:00:00.000Z",
        "2025-03-10T10:00:00.000Z",
        "Asia/Jakarta",
    )
    assert made["feedback_before"] is None  # up to the period's end, as a scheduled digest
    assert (
        "Period 2025-03-03 10:00 UTC to 2025-03-10 10:00 UTC (end excluded)"
        in (tmp_path / "a" / "report.md").read_text()
    )
    assert len(csv_rows(tmp_path / "a" / "answers.csv")) == 6  # asked at 10:00 UTC: the start is included
    assert len(csv_rows(tmp_path / "a" / "ratings.csv")) == 12 - 1  # not those given since

    # The period copied from digest.json, in UTC, gives the same digest.
    again = [made["start"], made["end"], "--timezone", made["day_basis"], "--feedback-until", made["end"]]
    result = run_digest(tmp_path, *period_args(db, tmp_path / "b", *again))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "b" / "digest.json").read_bytes() == (tmp_path / "a" / "digest.json").read_bytes()


def test_a_period_ending_at_a_date_and_time_leaves_that_instant_out(db, tmp_path):
    result = run_digest(tmp_path, *period_args(db, tmp_path / "out", "2025-03-01", "2025-03-03T10:00Z"))
    assert result.returncode == 0, result.stderr
    made = json.loads((tmp_path / "out" / "digest.json").read_text())
    assert (made["start"], made["end"]) == ("2025-03-01T00:00:00.000Z", "2025-03-03T10:00:00.000Z")
    assert csv_rows(tmp_path / "out" / "answers.csv") == []  # asked at 10:00 UTC: the end is excluded


def test_feedback_until_a_date_and_time_counts_what_was_given_before_that_instant(db, tmp_path):
    period = ("2025-03-03T00:00Z", "2025-03-04T10:00Z")
    for out, until in [("before", "2025-03-04 17:00"), ("after", "2025-03-04T10:00:00.001Z")]:
        args = ["--timezone", "Asia/Jakarta", "--feedback-until", until]
        result = run_digest(tmp_path, *period_args(db, tmp_path / out, *period, *args))
        assert result.returncode == 0, result.stderr
    assert csv_rows(tmp_path / "before" / "ratings.csv") == []  # given at 10:00:00.000 UTC, 17:00 in Jakarta
    assert len(csv_rows(tmp_path / "after" / "ratings.csv")) == 12 - 1


@pytest.mark.parametrize(
    ("first", "last", "more", "message"),
    [
        (
            "2025-03-03T17:00",
            "2025-03-03T10:00Z",
            ["--timezone", "Asia/Jakarta"],
            "--to 2025-03-03T10:00Z (2025-03-03 17:00 Asia/Jakarta) is not after --from 2025-03-03T17:00 (2025-03-03 "
            "17:00 Asia/Jakarta): a period ends after it starts; give a later --to (or swap them)",
        ),
        (
            "2025-03-03T09:00",
            "2025-03-02",
            [],
            "--to 2025-03-02 (up to 2025-03-03 00:00 UTC) is not after --from 2025-03-03T09:00 (2025-03-03 09:00 "
            "UTC): a period ends after it starts; give a later --to (or swap them)",
        ),
        (
            "2025-03-03T09:00",
            "2025-03-10T09:00",
            ["--feedback-until", "2025-03-10 08:59"],
            "--feedback-until 2025-03-10 08:59 (2025-03-10 08:59 UTC) is before the period's end, --to "
            "2025-03-10T09:00 (2025-03-10 09:00 UTC): give --to's value or a later one (or leave it out to count the "
            "feedback given until now)",
        ),
        (
            "2025-03-09 02:30",
            "2025-03-10",
            ["--timezone", "America/New_York"],
            "--from 2025-03-09 02:30 never happened in America/New_York: the clocks went forward from 02:00 to 03:00 "
            "on 2025-03-09; give a time that happened, with its UTC offset to be exact, e.g. 2025-03-09T03:00-04:00 "
            "(the moment they went forward)",
        ),
        (
            "2025-03-01",
            "2025-11-02T01:30",
            ["--timezone", "America/New_York"],
            "--to 2025-11-02 01:30 happened twice in America/New_York: the clocks went back from 02:00 to 01:00 on "
            "2025-11-02; give it with its UTC offset: 2025-11-02T01:30-04:00 for the first time, "
            "2025-11-02T01:30-05:00 for the second",
        ),
    ],
)
def test_a_period_that_is_none_is_one_line_naming_the_instants_as_read(db, tmp_path, first, last, more, message):
    result = run_digest(tmp_path, *period_args(db, tmp_path / "out", first, last, *more))
    assert one_error_line(result) == f"culturebot: {message}"
    assert not (tmp_path / "out").exists()


def test_a_moment_that_is_none_is_an_argument_error_with_the_forms_accepted(db, tmp_path):
    result = run_digest(tmp_path, *period_args(db, tmp_path / "out", "2025-03-03", "next monday"))
    assert result.returncode == 2  # argparse's status for a malformed argument
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "culturebot digest: error: argument --to: 'next monday' is not a date or a date and time; write a date, "
        "YYYY-MM-DD (a whole day), or a date and time, YYYY-MM-DDTHH:MM or 'YYYY-MM-DD HH:MM'"
    )


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        (" UTC", "UTC"),
        ("asia/jakarta", "Asia/Jakarta"),
        ("'UTC'", "UTC"),
        # Zones an earlier version let moderators save, which the report's provenance command then names: the
        # command that makes the report again must run.
        ("EST", "EST"),
        ("Etc/GMT-7", "Etc/GMT-7"),
    ],
)
def test_the_time_zone_is_read_as_typed_and_named_as_the_tz_database_spells_it(db, tmp_path, typed, shown):
    result = run_digest(tmp_path, *digest_args(db, tmp_path / "out", GUILD, "--timezone", typed))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"(server {GUILD}, 2025-03-01 to 2025-03-07 {shown}, with" in result.stdout.splitlines()[0]
    # Fit over time counts that zone's days too.
    assert json.loads((tmp_path / "out" / "digest.json").read_text())["day_basis"] == shown


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("UTC+7", "culturebot: --timezone: `UTC+7` is an offset, not a time zone: offsets are not accepted because"),
        ("Asia/Jakarte", "culturebot: --timezone: `Asia/Jakarte` is not a time zone: did you mean `Asia/Jakarta`"),
    ],
)
def test_a_time_zone_that_is_none_is_one_line_with_a_suggestion(db, tmp_path, typed, message):
    result = run_digest(tmp_path, *digest_args(db, tmp_path / "out", GUILD, "--timezone", typed))
    assert one_error_line(result).startswith(message)


def test_an_unrelated_sqlite_file_is_refused_and_left_without_new_tables(tmp_path):
    other = tmp_path / "notes.sqlite3"
    with contextlib.closing(sqlite3.connect(other)) as conn, conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    before = sha256(other)
    result = run_digest(tmp_path, *digest_args(other, tmp_path / "out"))
    line = one_error_line(result)
    assert line.startswith(f"culturebot: --db {other} is a SQLite database but not culturebot's")
    assert line.endswith(
        "check the path: the bot's database is CULTUREBOT_DATABASE_PATH (data/culturebot.sqlite3 by default)"
    )
    assert tables(other) == ["notes"]
    assert sha256(other) == before
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"just some notes\n" * 10, "is not a SQLite database; check the path"),
        (b"", "is an empty file, not a culturebot database; check the path"),
    ],
)
def test_a_file_that_is_not_a_database_is_one_line(tmp_path, content, expected):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    line = one_error_line(run_digest(tmp_path, *digest_args(path, tmp_path / "out")))
    assert line == f"culturebot: --db {path} {expected}"
    assert path.read_bytes() == content


def test_a_corrupt_database_is_one_line(db, tmp_path):
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page, after the header
    db.write_bytes(bytes(data))
    line = one_error_line(run_digest(tmp_path, *digest_args(db, tmp_path / "out")))
    assert line.startswith(f"culturebot: --db {db}: cannot read it (")
    assert db.read_bytes() == data


def test_a_folder_as_database_is_one_line(tmp_path):
    line = one_error_line(run_digest(tmp_path, *digest_args(tmp_path, tmp_path / "out")))
    assert line == f"culturebot: --db {tmp_path} is a folder; name the database file in it"


def test_an_older_schema_is_refused_without_migrating_it(tmp_path):
    known = load_migrations()
    old = tmp_path / "old-migrations"
    old.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql"))[: len(known) - 1]:
        shutil.copyfile(path, old / path.name)
    db = tmp_path / "old.sqlite3"
    asyncio.run(_migrated(db, old))
    before = sha256(db)
    line = one_error_line(run_digest(tmp_path, *digest_args(db, tmp_path / "out")))
    assert line == (
        f"culturebot: --db {db} is at schema version {len(known) - 1}, older than this culturebot ({len(known)}); "
        f"run `culturebot migrate --db {db}` (or start the bot once) to migrate it, "
        "or use the culturebot version that wrote it"
    )
    assert sha256(db) == before


async def _migrated(db: Path, directory: Path) -> None:
    storage = await SqliteStorage.open(db)
    try:
        await storage.migrate(directory)
    finally:
        await storage.close()


def test_a_newer_schema_is_refused(db, tmp_path):
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'future', 'x')")
    before = sha256(db)
    line = one_error_line(run_digest(tmp_path, *digest_args(db, tmp_path / "out")))
    assert line.startswith(f"culturebot: --db {db}: the database is at schema version 999, newer than this")
    assert "upgrade culturebot" in line
    assert sha256(db) == before


def test_an_unknown_server_is_refused_with_the_servers_there_are(db, tmp_path):
    before = sha256(db)
    line = one_error_line(run_digest(tmp_path, *digest_args(db, tmp_path / "out", 12345)))
    assert line == (
        f"culturebot: no server 12345 in {db}; give --guild one of its 2 servers: {GUILD} (Kopi Talk), "
        f"{GUILD + 1} (Teh Talk)"
    )
    assert not (tmp_path / "out").exists()
    assert sha256(db) == before


def test_a_database_of_one_server_names_it(tmp_path):
    db = tmp_path / "one.sqlite3"
    asyncio.run(_one_server(db))
    line = one_error_line(run_digest(tmp_path, *digest_args(db, tmp_path / "out", 12345)))
    assert line == f"culturebot: no server 12345 in {db}; give --guild the id of its one server: 42 ([31mKopi Talk)"


async def _one_server(db: Path) -> None:
    storage = await SqliteStorage.open(db)
    try:
        await storage.migrate()
        await storage.ensure_guild(42, "\x1b[31mKopi\r\nTalk")  # no escape sequence or line break reaches the terminal
    finally:
        await storage.close()


def test_many_servers_are_listed_up_to_ten(db, tmp_path):
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany("INSERT INTO guilds (guild_id, name) VALUES (?, ?)", [(i, f"s{i}") for i in range(1, 21)])
    line = one_error_line(run_digest(tmp_path, *digest_args(db, tmp_path / "out", 99)))
    assert line.startswith(f"culturebot: no server 99 in {db}; give --guild one of the first 10 of its 22 servers: ")
    assert line.endswith("9 (s9), 10 (s10)")


@pytest.mark.parametrize("guild", ["99999999999999999999", "9223372036854775808", "0", "-5", "kopi"])
def test_a_server_id_out_of_range_is_an_argument_error(db, tmp_path, guild):
    result = run_digest(tmp_path, *digest_args(db, tmp_path / "out", guild))
    assert result.returncode == 2  # argparse's status for a malformed argument, as for a malformed date
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"culturebot digest: error: argument --guild: '{guild}' is not a server id")


def test_the_largest_server_id_is_accepted(db, tmp_path):
    line = one_error_line(run_digest(tmp_path, *digest_args(db, tmp_path / "out", 2**63 - 1)))
    assert line.startswith(f"culturebot: no server {2**63 - 1} in {db}")


def test_out_naming_a_file_is_one_line(db, tmp_path):
    existing = tmp_path / "report.txt"
    existing.write_text("mine")
    line = one_error_line(run_digest(tmp_path, *digest_args(db, existing)))
    assert line == f"culturebot: --out {existing} is a file; name a folder (it is created if missing)"
    assert existing.read_text() == "mine"
    line = one_error_line(run_digest(tmp_path, *digest_args(db, existing / "digest")))
    assert line == (
        f"culturebot: --out {existing / 'digest'}: {existing} is a file, so no folder can be made there; "
        "name another folder"
    )


def test_the_missing_database_is_still_named(tmp_path):
    missing = tmp_path / "none.sqlite3"
    line = one_error_line(run_digest(tmp_path, *digest_args(missing, tmp_path / "out")))
    assert line == f"culturebot: no database at {missing}"
    assert not missing.exists()


# Permissions do not bind root (CI runs as root): the refusals are made in-process, with the real messages.


def test_an_unreadable_database_is_one_line(db, tmp_path, monkeypatch, capsys):
    real_open = Path.open

    def refusing_open(self: Path, *args: object, **kwargs: object) -> object:
        if self == db:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", refusing_open)
    assert cli.main(["digest", *digest_args(db, tmp_path / "out")]) == EX_CONFIG
    assert capsys.readouterr().err == (
        f"culturebot: --db {db}: permission denied; run as a user who can read it, or read a copy of it\n"
    )


def test_an_unwritable_out_folder_is_one_line(db, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path)
    assert cli.main(["digest", *digest_args(db, out)]) == EX_CONFIG
    assert capsys.readouterr().err == (
        f"culturebot: --out {out}: permission denied to create it in {tmp_path}; name a folder you can write in\n"
    )
    assert not out.exists()


def test_without_a_time_zone_the_servers_digest_time_zone_is_used(db, tmp_path):
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "INSERT INTO guild_settings (guild_id, digest_timezone) VALUES (?, 'Asia/Jakarta') "
            "ON CONFLICT (guild_id) DO UPDATE SET digest_timezone = excluded.digest_timezone",
            (GUILD,),
        )
    result = run_digest(tmp_path, *digest_args(db, tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert f"(server {GUILD}, 2025-03-01 to 2025-03-07 Asia/Jakarta, with" in result.stdout.splitlines()[0]
    digest = json.loads((tmp_path / "out" / "digest.json").read_text())
    # Jakarta's days: from 1 March 00:00 there (UTC+7), the last day of February 17:00 UTC.
    assert (digest["start"], digest["end"], digest["day_basis"]) == (
        "2025-02-28T17:00:00.000Z",
        "2025-03-07T17:00:00.000Z",
        "Asia/Jakarta",
    )
    # Another server of the file, with no time zone set: UTC's days.
    other = run_digest(tmp_path, *digest_args(db, tmp_path / "other", GUILD + 1))
    assert other.returncode == 0, other.stderr
    assert f"(server {GUILD + 1}, 2025-03-01 to 2025-03-07 UTC, with" in other.stdout.splitlines()[0]


def test_the_reports_provenance_command_makes_the_same_digest_again(db, tmp_path):
    args = ["--timezone", "Asia/Jakarta", "--feedback-until", "2025-03-10 17:00"]
    result = run_digest(tmp_path, *period_args(db, tmp_path / "a", "2025-03-03 17:00", "2025-03-10T17:00", *args))
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "a" / "report.md").read_text()
    [command] = [line for line in report.splitlines() if line.startswith("culturebot digest --db DATABASE ")]
    assert f"```\n{command}\n```" in report, "a fenced code block, copied as it is"
    # It names the period compared with: which one that is follows the server's schedule, which may change before
    # the command is run (here, to a daily one).
    made = json.loads((tmp_path / "a" / "digest.json").read_text())
    assert f"--compare-from {made['previous']['start']} " in command
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "INSERT INTO guild_settings (guild_id, digest_cron, digest_timezone) VALUES (?, '0 9 * * *', 'UTC') "
            "ON CONFLICT (guild_id) DO UPDATE SET digest_cron = excluded.digest_cron",
            (GUILD,),
        )
    words = command.replace("DATABASE", str(db)).replace("FOLDER", str(tmp_path / "b")).split()[2:]
    again = run_digest(tmp_path, *words)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "b" / "digest.json").read_bytes() == (tmp_path / "a" / "digest.json").read_bytes()
    assert (tmp_path / "b" / "report.md").read_text() == report


def test_a_comparison_start_not_before_the_period_is_one_line(db, tmp_path):
    result = run_digest(
        tmp_path, *period_args(db, tmp_path / "out", "2025-03-03", "2025-03-09", "--compare-from", "2025-03-03")
    )
    assert one_error_line(result) == (
        "culturebot: --compare-from 2025-03-03 (from 2025-03-03 00:00 UTC) is not before --from 2025-03-03 (from "
        "2025-03-03 00:00 UTC): the period compared with ends where this one starts"
    )


def test_a_database_in_use_is_one_line_saying_to_try_again_with_exit_status_1(db, tmp_path):
    """A database another process holds locked said "check that it is a culturebot database" and exited 78, which
    tells a supervisor or a script that something must change first."""
    from bot.exit_status import EXIT_FAILED

    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        result = run_digest(tmp_path, *digest_args(db, tmp_path / "out"))
    finally:
        holder.close()
    assert result.returncode == EXIT_FAILED and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"culturebot: --db {db} is in use (") and line.endswith("; try again in a moment")


def test_a_home_folder_path_the_shell_did_not_expand_is_read_as_the_home_folder(db, tmp_path, monkeypatch, capsys):
    """`--db=~/bot.sqlite3` (or a quoted path) reaches the program with its `~`: digest said "no database at
    ~/bot.sqlite3" while migrate found it, and backup made a folder named `~`."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["digest", "--db=~/bot.sqlite3", "--guild", str(GUILD), *WEEK, "--out", "~/report"]) == 0
    assert (tmp_path / "report" / "report.md").is_file()
    assert not (tmp_path / "~").exists()
    assert cli.main(["backup", "--db", "~/bot.sqlite3", "--out", "~/copy.sqlite3"]) == 0
    assert (tmp_path / "copy.sqlite3").is_file() and not (tmp_path / "~").exists()
    capsys.readouterr()


def test_a_from_too_early_for_its_comparison_says_what_to_change(db, tmp_path):
    """It said only that the period before --from was out of range, while the range message said 0002 to 9998."""
    args = ["--db", str(db), "--guild", str(GUILD), "--from", "0002-01-01", "--to", "9998-12-31"]
    line = one_error_line(run_digest(tmp_path, *args, "--out", str(tmp_path / "out")))
    assert line.startswith("culturebot: --from is too early: the comparison period, as long as this one before --from,")
    assert "give a later --from or a shorter period, or name where the comparison starts with --compare-from" in line


def test_a_home_folder_of_no_user_is_an_argument_error_not_a_traceback(tmp_path):
    result = run_digest(
        tmp_path, "--db", "~nosuchuser-culturebot/x.sqlite3", "--guild", str(GUILD), *WEEK, "--out", "o"
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "argument --db: ~nosuchuser-culturebot/x.sqlite3: cannot find the home folder of the user" in result.stderr
