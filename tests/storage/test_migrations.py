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
    (migrations_copy / "0009_skipped.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="out of sequence"):
        await open_and_migrate(tmp_path / "bot.sqlite3", migrations_copy)
