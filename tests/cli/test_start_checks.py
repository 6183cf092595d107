"""`culturebot run` as a real process: problems an operator can fix are one line at start-up, before Discord."""

from __future__ import annotations

import subprocess

from bot.exit_status import EX_CONFIG
from tests.cli.test_cli import run_cli


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == EX_CONFIG, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_digest_dir_that_is_a_file_stops_the_start_instead_of_the_first_digest(tmp_path):
    (tmp_path / "digests").write_text("not a folder")
    line = one_line(run_cli("run", env={"CULTUREBOT_DIGEST_DIR": "digests"}, cwd=tmp_path))
    assert line.startswith("culturebot: invalid configuration: CULTUREBOT_DIGEST_DIR: digests is a file, not a folder")


def test_a_damaged_key_file_stops_the_start_with_what_to_do(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "pseudonym.key").write_text("not hex at all\n")
    env = {"CULTUREBOT_DISCORD_TOKEN": "token", "CULTUREBOT_MODEL_BASE_URL": "http://127.0.0.1:9/v1"}
    line = one_line(run_cli("run", env=env, cwd=tmp_path))
    assert line == (
        "culturebot: the pseudonymisation key file data/pseudonym.key must hold the hexadecimal key culturebot wrote "
        "there, and does not: restore it from your backup (do not make a new one: every member's pseudonym would "
        "change, and their stored data would no longer match them)"
    )


def test_a_lower_case_log_level_is_accepted(tmp_path):
    line = one_line(run_cli("run", env={"CULTUREBOT_LOG_LEVEL": "info"}, cwd=tmp_path))
    assert line.startswith("culturebot: CULTUREBOT_DISCORD_TOKEN is not set"), line


def test_a_model_url_with_a_user_and_password_says_where_the_key_goes_and_never_echoes_it(tmp_path):
    url = "http://culture:hunter2-secret@127.0.0.1:11434/v1"
    result = run_cli("run", env={"CULTUREBOT_MODEL_BASE_URL": url}, cwd=tmp_path)
    assert one_line(result) == (
        "culturebot: invalid configuration: CULTUREBOT_MODEL_BASE_URL: holds a user name or password (before the @), "
        "which the model client cannot send: it authenticates with CULTUREBOT_MODEL_API_KEY (sent as a Bearer "
        "token). Set CULTUREBOT_MODEL_BASE_URL=http://127.0.0.1:11434/v1 and put the key in CULTUREBOT_MODEL_API_KEY "
        "(got 'http://…@127.0.0.1:11434/v1')"
    )
    assert "hunter2" not in result.stdout + result.stderr


def test_a_model_url_without_a_host_says_how_to_write_it(tmp_path):
    # pydantic alone would read it as the host "v1".
    line = one_line(run_cli("run", env={"CULTUREBOT_MODEL_BASE_URL": "http:///v1"}, cwd=tmp_path))
    assert line.startswith(
        "culturebot: invalid configuration: CULTUREBOT_MODEL_BASE_URL: has no host: write it as http://HOST:PORT/v1"
    )


def test_a_model_url_the_http_client_cannot_use_stops_the_start_with_one_line(tmp_path):
    # A valid URL whose host name has an empty label: the HTTP client raises UnicodeError, none of openai's errors.
    url = "https://models..example.com/v1"
    env = {"CULTUREBOT_DISCORD_TOKEN": "token", "CULTUREBOT_MODEL_BASE_URL": url}
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == EX_CONFIG, result.stderr
    assert "Traceback" not in result.stderr and "Unclosed" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"culturebot: the model endpoint {url} could not be checked (UnicodeError: "), last
    assert last.endswith("): check CULTUREBOT_MODEL_BASE_URL (CULTUREBOT_LOG_LEVEL=DEBUG logs the traceback)")
