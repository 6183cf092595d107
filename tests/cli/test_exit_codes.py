"""`culturebot`'s exit statuses as a real process (README, Deployment): a refusal exits EX_CONFIG (78), which the
README's systemd unit does not restart (restarting cannot help until something changes); a failure a later try may
get past exits EXIT_FAILED (1), which it restarts. The same refusal gets the same status from every command."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from bot.exit_status import EX_CONFIG, EXIT_FAILED
from bot.storage.instance_lock import lock_database, lock_file
from tests.cli.test_cli import run_cli


def command_line(command: str, db: Path) -> list[str]:
    script = db.with_name("script.txt")
    script.write_text("/help\n")
    return {
        "run": ["run"],
        "migrate": ["migrate"],
        "sandbox": ["sandbox", "--db", str(db), "--model", "fake", "--script", str(script)],
        "backup": ["backup", "--out", str(db.with_name("copy.sqlite3"))],
    }[command]


def settings_for(db: Path) -> dict[str, str]:
    """Enough for `culturebot run` to get past its token check, with no network in reach."""
    return {
        "CULTUREBOT_DISCORD_TOKEN": "token",
        "CULTUREBOT_DATABASE_PATH": str(db),
        "CULTUREBOT_MODEL_BASE_URL": f"http://127.0.0.1:{unused_port()}/v1",
    }


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", ["run", "migrate", "backup"])
def test_invalid_configuration_is_refused_with_ex_config(tmp_path, command):
    db = tmp_path / "bot.sqlite3"
    env = {**settings_for(db), "CULTUREBOT_MODEL_MAX_TOKENS": "0"}
    result = run_cli(*command_line(command, db), env=env, cwd=tmp_path)
    assert result.returncode == EX_CONFIG, result.stderr
    assert result.stderr.startswith("culturebot: invalid configuration: CULTUREBOT_MODEL_MAX_TOKENS: "), result.stderr


IN_USE_FIX = {
    "run": "culturebot: {problem}; stop it first, or give this one its own CULTUREBOT_DATABASE_PATH",
    "migrate": "culturebot: {problem}; stop it first (it applies migrations itself when it starts)",
    "sandbox": "culturebot sandbox: {problem}; stop it first, or give the sandbox another --db",
}


@pytest.mark.parametrize("command", IN_USE_FIX)
def test_a_database_another_culturebot_uses_is_refused_with_ex_config(tmp_path, command):
    db = tmp_path / "bot.sqlite3"
    with lock_database(db):  # held by this process, as by a running bot
        result = run_cli(*command_line(command, db), env=settings_for(db), cwd=tmp_path)
    assert result.returncode == EX_CONFIG, result.stderr
    problem = f"another culturebot (pid {os.getpid()}) is using the database {db}"
    assert result.stderr.strip().splitlines() == [IN_USE_FIX[command].format(problem=problem)]
    assert not db.exists(), "refused before anything was written"


UNLOCKABLE_FIX = {
    "run": "culturebot: {problem}",
    "migrate": "culturebot: {problem}",
    "sandbox": "culturebot sandbox: {problem}; choose another --db",
}


@pytest.mark.parametrize("command", UNLOCKABLE_FIX)
def test_a_database_that_cannot_be_locked_is_refused_with_ex_config(tmp_path, command):
    db = tmp_path / "bot.sqlite3"
    lock_file(db).mkdir()  # where the lock file goes (permissions do not bind root, who runs CI)
    result = run_cli(*command_line(command, db), env=settings_for(db), cwd=tmp_path)
    assert result.returncode == EX_CONFIG, result.stderr
    problem = f"cannot create the lock file {lock_file(db)} beside the database: Is a directory"
    assert result.stderr.strip().splitlines() == [UNLOCKABLE_FIX[command].format(problem=problem)]


def test_discord_out_of_reach_at_start_exits_with_a_status_the_supervisor_retries(tmp_path):
    db = tmp_path / "bot.sqlite3"
    api = f"http://127.0.0.1:{unused_port()}/api/v10"
    result = run_cli("run", env={**settings_for(db), "CULTUREBOT_DISCORD_API_BASE": api}, cwd=tmp_path)
    assert result.returncode == EXIT_FAILED, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"culturebot: cannot reach Discord at {api}: Cannot connect to host "), result.stderr
