"""Start-up checks of the paths and values in the settings: what is wrong is said at start-up, with the variable and
the fix, rather than found later (the first digest, a week on) or reported in SQLite's or Python's words."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.app import StartupError, load_pseudonymizer
from bot.config import LogLevel, Settings, SettingsError, load_settings


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"database_path": tmp_path / "bot.sqlite3", "digest_dir": tmp_path / "digests"}
    values.update(overrides)
    return load_settings(_env_file=None, **values)


def refusal(tmp_path: Path, **overrides: Any) -> str:
    with pytest.raises(SettingsError) as raised:
        settings(tmp_path, **overrides)
    return str(raised.value)


def unwritable(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """This user may not write in `path` (tests run as root, whom permissions do not stop)."""
    real = os.access

    def access(target: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        if Path(target).absolute() == path.absolute() and mode & os.W_OK:
            return False
        return real(target, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


def read_only_filesystem(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """`path` is on a filesystem mounted read-only (which os.access reports as not writable, errno EROFS)."""
    real_statvfs, real_access = os.statvfs, os.access

    def statvfs(target: Any) -> Any:
        if Path(target).absolute() == path.absolute():
            return SimpleNamespace(f_flag=os.ST_RDONLY)
        return real_statvfs(target)

    def access(target: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        if Path(target).absolute() == path.absolute() and mode & os.W_OK:
            return False
        return real_access(target, mode, *args, **kwargs)

    monkeypatch.setattr(os, "statvfs", statvfs)
    monkeypatch.setattr(os, "access", access)


def test_a_digest_dir_that_is_a_file_is_refused_at_start_up(tmp_path):
    (tmp_path / "digests").write_text("not a folder")
    message = refusal(tmp_path)
    assert f"CULTUREBOT_DIGEST_DIR: {tmp_path / 'digests'} is a file, not a folder; give the folder digests" in message


def test_a_digest_dir_that_cannot_be_created_is_refused_at_start_up(tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder would go")
    message = refusal(tmp_path, digest_dir=tmp_path / "blocker" / "digests")
    assert f"CULTUREBOT_DIGEST_DIR: cannot create the folder {tmp_path / 'blocker' / 'digests'}" in message


def test_an_unwritable_digest_dir_is_refused_with_the_fix(tmp_path, monkeypatch):
    (tmp_path / "digests").mkdir()
    unwritable(monkeypatch, tmp_path / "digests")
    message = refusal(tmp_path)
    assert f"CULTUREBOT_DIGEST_DIR: digests are written to {tmp_path / 'digests'}, which is not writable" in message
    assert "give it to the user the bot runs as (chown), or give another folder" in message


def test_a_digest_dir_on_a_read_only_filesystem_says_so(tmp_path, monkeypatch):
    (tmp_path / "digests").mkdir()
    read_only_filesystem(monkeypatch, tmp_path / "digests")
    assert "which is on a read-only filesystem" in refusal(tmp_path)


def test_a_writable_database_in_a_read_only_folder_says_the_folder_must_be_writable_too(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "bot.sqlite3").touch()
    unwritable(monkeypatch, folder)
    message = refusal(tmp_path, database_path=folder / "bot.sqlite3")
    assert f"CULTUREBOT_DATABASE_PATH: {folder / 'bot.sqlite3'} is writable but its folder {folder} is not" in message
    assert "SQLite writes its -wal and -shm files beside the database" in message


def test_a_database_on_a_read_only_filesystem_is_not_called_a_permission_problem(tmp_path, monkeypatch):
    db = tmp_path / "bot.sqlite3"
    db.touch()
    read_only_filesystem(monkeypatch, db)
    message = refusal(tmp_path)
    assert f"CULTUREBOT_DATABASE_PATH: {db} is on a read-only filesystem" in message
    assert "by this user" not in message


def test_a_new_database_on_a_read_only_filesystem_says_so(tmp_path, monkeypatch):
    read_only_filesystem(monkeypatch, tmp_path)
    message = refusal(tmp_path)
    assert f"cannot create {tmp_path / 'bot.sqlite3'}: {tmp_path} is on a read-only filesystem" in message


@pytest.mark.parametrize("written", ["info", "Debug", " warning "])
def test_the_log_level_may_be_written_in_any_case(tmp_path, written):
    assert settings(tmp_path, log_level=written).log_level is LogLevel[written.strip().upper()]


def test_a_damaged_key_file_says_to_restore_it_never_to_make_a_new_one(tmp_path):
    key_file = tmp_path / "badkey"
    key_file.write_text("zz not a key\n")
    with pytest.raises(StartupError) as raised:
        load_pseudonymizer(settings(tmp_path, pseudonym_key_file=key_file))
    message = str(raised.value)
    assert message.startswith(
        f"the pseudonymisation key file {key_file} must hold the hexadecimal key culturebot wrote"
    )
    assert "restore it from your backup (do not make a new one: every member's pseudonym would change" in message
    assert "fromhex" not in message


def test_sqlite_unable_to_open_the_database_names_the_folder(tmp_path):
    from bot.app import database_problem

    problem = database_problem(settings(tmp_path), sqlite3.OperationalError("unable to open database file"))
    assert problem.startswith(f"cannot use the database {tmp_path / 'bot.sqlite3'}: unable to open database file (")
    assert f"the folder {tmp_path} must be writable by this user too" in problem


def test_a_misspelt_variable_is_named_with_the_setting_it_likely_meant(tmp_path, monkeypatch, caplog):
    """Ignored silently, `CULTUREBOT_MODEL_BASEURL` would leave the embedded model serving a real community."""
    env = tmp_path / ".env"
    env.write_text("CULTUREBOT_LOG_LEVL=DEBUG\nCULTUREBOT_NOT_A_THING=1\nOTHER_TOOL_SETTING=1\n", encoding="utf-8")
    monkeypatch.setenv("CULTUREBOT_MODEL_BASEURL", "http://localhost:11434/v1")
    with caplog.at_level("WARNING", logger="bot.config"):
        loaded = load_settings(_env_file=env, database_path=tmp_path / "bot.sqlite3", digest_dir=tmp_path / "digests")
    assert loaded.model_base_url is None, "still ignored: a warning, not a refusal (an old variable must not block)"
    assert [record.getMessage() for record in caplog.records] == [
        f"CULTUREBOT_LOG_LEVL (in {env}) is not a culturebot setting and is ignored: did you mean "
        "CULTUREBOT_LOG_LEVEL?",
        "CULTUREBOT_MODEL_BASEURL (in the environment) is not a culturebot setting and is ignored: did you mean "
        "CULTUREBOT_MODEL_BASE_URL?",
        f"CULTUREBOT_NOT_A_THING (in {env}) is not a culturebot setting and is ignored: see .env.example for the "
        "settings",
    ]


def test_a_dotenv_file_that_is_not_utf8_is_refused_with_what_to_do(tmp_path):
    env = tmp_path / ".env"
    env.write_bytes("CULTUREBOT_COMMENT_PREFIX=avis é:\n".encode("latin-1"))
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=env, database_path=tmp_path / "bot.sqlite3", digest_dir=tmp_path / "digests")
    assert str(raised.value) == f"invalid configuration: {env} is not UTF-8 text (byte 31 is not): save it as UTF-8"


def test_a_path_starting_with_a_tilde_is_in_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    loaded = load_settings(_env_file=None, database_path="~/culturebot/bot.sqlite3", digest_dir="~/culturebot/digests")
    assert loaded.database_path == tmp_path / "culturebot" / "bot.sqlite3"
    assert loaded.digest_dir == tmp_path / "culturebot" / "digests"


def test_a_local_model_file_that_is_not_gguf_is_refused_at_start_up(tmp_path):
    """Found by the server child instead, it was a crash that a service manager restarted every 10 s for ever."""
    empty = tmp_path / "model.gguf"
    empty.write_bytes(b"")
    assert refusal(tmp_path, local_model_path=empty).startswith(
        f"invalid configuration: CULTUREBOT_LOCAL_MODEL_PATH: {empty} is not a GGUF model file; give the path of a "
        ".gguf model file or leave it empty"
    )


def test_a_privacy_log_file_the_bot_cannot_write_is_refused_at_start_up(tmp_path, monkeypatch):
    """It was not checked: a bot whose log lay in a folder it could not write ran without a word, and every consent
    decision and forget request would have been missing from the log a database restore relies on."""
    (tmp_path / "logs").mkdir()
    message = refusal(tmp_path, privacy_log_file=tmp_path / "logs")
    assert f"CULTUREBOT_PRIVACY_LOG_FILE: {tmp_path / 'logs'} is a folder; give a file path such as" in message
    (tmp_path / "blocker").write_text("a file where a folder would go")
    message = refusal(tmp_path, privacy_log_file=tmp_path / "blocker" / "privacy.jsonl")
    assert f"CULTUREBOT_PRIVACY_LOG_FILE: cannot create {tmp_path / 'blocker' / 'privacy.jsonl'}" in message
    read_only = tmp_path / "ro"
    read_only.mkdir()
    unwritable(monkeypatch, read_only)
    message = refusal(tmp_path, privacy_log_file=read_only / "privacy.jsonl")
    assert f"cannot create {read_only / 'privacy.jsonl'}: {read_only} is not writable by this user" in message
    (read_only / "privacy.jsonl").write_text("")
    message = refusal(tmp_path, privacy_log_file=read_only / "privacy.jsonl")
    assert "is rewritten beside itself when old requests are dropped" in message
    assert (
        settings(tmp_path, privacy_log_file=tmp_path / "privacy.jsonl").privacy_log_file == tmp_path / "privacy.jsonl"
    )


def test_the_default_privacy_log_beside_the_database_is_checked_too(tmp_path, monkeypatch):
    """Only a privacy log set explicitly was checked: the default one, beside the database, could be a file this user
    cannot write, and the bot started."""
    log = tmp_path / "bot.privacy-requests.jsonl"
    log.write_text("")
    unwritable(monkeypatch, log)
    message = refusal(tmp_path)
    assert "CULTUREBOT_PRIVACY_LOG_FILE (unset: the privacy log beside the database)" in message
    assert f"{log} is not readable and writable by this user" in message
