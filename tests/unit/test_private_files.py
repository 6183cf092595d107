"""The key file and the privacy log, like the database, are made readable by their owner only when the bot opens
them: with the key, anyone holding the research files could re-identify members by hashing their member ids."""

from __future__ import annotations

import logging
import secrets
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.pseudonyms import load_or_create_key
from bot.storage.privacy_log import PrivacyLog


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_key_file_open_to_other_users_is_made_private_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "pseudonym.key"  # as `openssl rand -hex 32 > pseudonym.key` leaves it under umask 022
    key_file.write_text(secrets.token_hex(32) + "\n")
    key_file.chmod(0o644)
    settings = Settings.model_validate({"discord_token": "x", "pseudonym_key_file": key_file})
    with caplog.at_level(logging.WARNING):
        key, created = load_or_create_key(settings)
    assert not created and len(key) == 32
    assert mode(key_file) == 0o600
    assert f"made {key_file} readable and writable by its owner only" in caplog.text
    assert "pseudonym.key (mode 644)" in caplog.text


def test_a_privacy_log_open_to_other_users_is_made_private(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log = PrivacyLog.open(tmp_path / "privacy.jsonl", timedelta(days=400))
    log.record_forget("m1", datetime(2026, 12, 7, tzinfo=UTC))
    log.path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        again = PrivacyLog.open(log.path, timedelta(days=400))
    assert len(again.requests) == 1
    assert mode(log.path) == 0o600
    assert "privacy.jsonl (mode 644)" in caplog.text
