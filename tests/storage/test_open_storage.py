"""`open_storage` says which migrations it applied (some take a while on a large database), and only then."""

from __future__ import annotations

import logging

from bot.config import load_settings
from bot.storage import open_storage
from bot.storage.migrations import load_migrations


async def test_the_migrations_applied_at_start_are_logged_once(tmp_path, caplog):
    settings = load_settings(_env_file=None, database_path=tmp_path / "bot.sqlite3", digest_dir=tmp_path / "digests")
    caplog.set_level(logging.INFO, logger="bot.storage")
    await (await open_storage(settings)).close()
    newest = load_migrations()[-1]
    [line] = [r.getMessage() for r in caplog.records if "applied migration" in r.getMessage()]
    assert line.startswith(f"database {tmp_path / 'bot.sqlite3'}: applied migration(s) 0001_")
    assert line.endswith(f", {newest.version:04d}_{newest.name}")
    caplog.clear()
    await (await open_storage(settings)).close()
    assert "applied migration" not in caplog.text, "nothing to apply the second time"
