import json
import shutil
import sqlite3

import pytest

from bot.storage import MigrationError, SqliteStorage
from bot.storage.migrations import MIGRATIONS_DIR, load_migrations


@pytest.fixture
def migrations_copy(tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    return directory


async def open_and_migrate(path, directory):
    storage = await SqliteStorage.open(path)
    try:
        return await storage.migrate(directory)
    finally:
        await storage.close()


async def test_apply_then_reapply_is_a_noop(tmp_path, migrations_copy):
    db = tmp_path / "bot.sqlite3"
    applied = await open_and_migrate(db, migrations_copy)
    assert [m.version for m in applied] == [m.version for m in load_migrations()]
    assert await open_and_migrate(db, migrations_copy) == []
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall()
        assert [row[0] for row in rows] == [m.version for m in applied]
        assert [row[1] for row in rows] == [m.checksum for m in applied]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"answers", "ratings", "answer_messages", "guilds"} <= tables


async def test_tampered_migration_is_refused(tmp_path, migrations_copy):
    db = tmp_path / "bot.sqlite3"
    await open_and_migrate(db, migrations_copy)
    first = sorted(migrations_copy.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- a quiet edit\n")
    with pytest.raises(MigrationError, match=r"0001_initial\.sql has changed since it was applied"):
        await open_and_migrate(db, migrations_copy)


async def test_database_newer_than_code_is_refused(tmp_path, migrations_copy):
    db = tmp_path / "bot.sqlite3"
    extra = migrations_copy / f"{len(load_migrations()) + 1:04d}_future.sql"
    extra.write_text("CREATE TABLE future_things (id INTEGER PRIMARY KEY);")
    await open_and_migrate(db, migrations_copy)
    extra.unlink()
    with pytest.raises(MigrationError, match="newer than this culturebot knows"):
        await open_and_migrate(db, migrations_copy)


async def test_failing_migration_rolls_back_completely(tmp_path, migrations_copy):
    db = tmp_path / "bot.sqlite3"
    await open_and_migrate(db, migrations_copy)
    latest = len(load_migrations())
    broken = migrations_copy / f"{latest + 1:04d}_broken.sql"
    broken.write_text("CREATE TABLE half_done (id INTEGER);\nINSERT INTO no_such_table VALUES (1);")
    with pytest.raises(MigrationError, match=rf"{latest + 1:04d}_broken\.sql failed and was rolled back"):
        await open_and_migrate(db, migrations_copy)
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "half_done" not in tables
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == latest


async def test_gap_in_numbering_is_refused(tmp_path, migrations_copy):
    skipped = len(load_migrations()) + 2  # one number left out after the latest
    (migrations_copy / f"{skipped:04d}_skipped.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="out of sequence"):
        await open_and_migrate(tmp_path / "bot.sqlite3", migrations_copy)


RATINGS = [
    (10, "ana", 3, 3, 1, "button", "2026-11-16T09:00:00.000Z", "2026-11-16T09:00:00.000Z"),
    (10, "budi", 1, 5, 0, "reaction", "2026-11-16T10:00:00.000Z", "2026-11-17T08:30:00.000Z"),
    (11, "ana", 2, 3, 0, "reaction", "2026-11-18T09:00:00.000Z", "2026-11-18T09:00:00.000Z"),
]
REASONS = [(10, "budi", "stereotyped"), (10, "budi", "too generic"), (11, "ana", "useful")]


async def ratings_before_0007(tmp_path, migrations_copy):
    """A database migrated up to 0006 holding RATINGS and REASONS; the later migrations are back in place."""
    db = tmp_path / "bot.sqlite3"
    later = sorted(path for path in migrations_copy.glob("*.sql") if int(path.name[:4]) >= 7)
    kept_aside = tmp_path / "later"
    kept_aside.mkdir()
    for path in later:
        path.rename(kept_aside / path.name)
    await open_and_migrate(db, migrations_copy)  # the schema before 0007
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("INSERT INTO guilds (guild_id, name) VALUES (1, 'Kopi Talk')")
        for answer_id in (10, 11):
            conn.execute(
                "INSERT INTO answers (answer_id, guild_id, channel_id, asker_hash, question, model) "
                "VALUES (?, 1, 5, 'asker', 'How do I greet her?', 'model')",
                (answer_id,),
            )
        conn.executemany("INSERT INTO ratings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", RATINGS)
        conn.executemany("INSERT INTO rating_reasons VALUES (?, ?, ?)", REASONS)
    for path in later:
        (kept_aside / path.name).rename(migrations_copy / path.name)
    return db


# The columns of 0007 (0022 adds previous_value).
RATING_COLUMNS = "answer_id, rater_hash, value, scale_size, is_asker, source, created_at, updated_at"


async def test_ratings_keep_their_rows_and_reasons_when_stored_by_key(tmp_path, migrations_copy):
    """0007 rebuilds ratings WITHOUT ROWID: every rating and reason tag stays, and the constraints still hold."""
    db = await ratings_before_0007(tmp_path, migrations_copy)
    ratings, reasons = RATINGS, REASONS
    applied = await open_and_migrate(db, migrations_copy)
    assert [migration.name for migration in applied][:1] == ["ratings_by_key"]
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        assert (
            conn.execute(f"SELECT {RATING_COLUMNS} FROM ratings ORDER BY answer_id, rater_hash").fetchall() == ratings
        )
        assert conn.execute("SELECT * FROM rating_reasons ORDER BY 1, 2, 3").fetchall() == reasons
        assert "WITHOUT ROWID" in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'ratings'").fetchone()[0]
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'ratings'")}
        assert {"ratings_by_rater", "ratings_by_answer_time"} <= indexes
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        with pytest.raises(sqlite3.IntegrityError):  # still one rating per member and answer
            conn.execute(f"INSERT INTO ratings ({RATING_COLUMNS}) VALUES (10, 'ana', 1, 3, 0, 'button', 'x', 'x')")
        with pytest.raises(sqlite3.IntegrityError):  # the checks came along
            conn.execute(f"INSERT INTO ratings ({RATING_COLUMNS}) VALUES (11, 'citra', 9, 3, 0, 'button', 'x', 'x')")
        # Reasons still go with their rating, and ratings with their answer.
        conn.execute("DELETE FROM ratings WHERE answer_id = 10 AND rater_hash = 'budi'")
        assert conn.execute("SELECT * FROM rating_reasons").fetchall() == [(11, "ana", "useful")]
        conn.execute("DELETE FROM answers WHERE answer_id = 11")
        assert conn.execute("SELECT answer_id, rater_hash FROM ratings").fetchall() == [(10, "ana")]
        assert conn.execute("SELECT count(*) FROM rating_reasons").fetchone()[0] == 0


async def test_the_ratings_rebuild_also_keeps_reasons_with_foreign_keys_off(tmp_path, migrations_copy):
    # Run by hand in a shell (foreign keys off by default), dropping the old table cascades to nothing.
    db = await ratings_before_0007(tmp_path, migrations_copy)
    script = next(migrations_copy.glob("0007_*.sql")).read_text()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 0
        conn.executescript(f"BEGIN; {script} COMMIT;")
        assert conn.execute("SELECT * FROM ratings ORDER BY answer_id, rater_hash").fetchall() == RATINGS
        assert conn.execute("SELECT * FROM rating_reasons ORDER BY 1, 2, 3").fetchall() == REASONS


async def test_answers_purged_before_0018_lose_the_cues_read_from_their_words(tmp_path, migrations_copy):
    """The purge now removes them with the text; answers purged by an earlier version kept them for ever."""
    later = sorted(path for path in migrations_copy.glob("*.sql") if int(path.name[:4]) >= 18)
    kept_aside = tmp_path / "later"
    kept_aside.mkdir()
    for path in later:
        path.rename(kept_aside / path.name)
    db = tmp_path / "bot.sqlite3"
    await open_and_migrate(db, migrations_copy)
    cues = json.dumps(
        {"source": "rules", "language": "id", "addressee": "manager", "setting": "workplace", "identifiers": ["Batak"]}
    )
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO guilds (guild_id, name) VALUES (1, 'g')")
        for answer_id, purged in ((1, "2026-01-01T00:00:00.000Z"), (2, None)):
            conn.execute(
                "INSERT INTO answers (answer_id, guild_id, channel_id, asker_hash, question, model, cues, "
                "text_purged_at) VALUES (?, 1, 5, 'asker', '', 'model', ?, ?)",
                (answer_id, cues, purged),
            )
    for path in later:
        (kept_aside / path.name).rename(migrations_copy / path.name)
    await open_and_migrate(db, migrations_copy)
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT answer_id, cues FROM answers"))
    assert json.loads(rows[1]) == {"language": "id", "setting": "workplace"}
    assert json.loads(rows[2])["identifiers"] == ["Batak"], "an answer not purged yet keeps its cues"
