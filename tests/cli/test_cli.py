import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.exit_status import EX_CONFIG, EXIT_FAILED


def run_cli(*args, env=None, cwd):
    """Run `culturebot` as a real process with a clean CULTUREBOT_* environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CULTUREBOT_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("CULTUREBOT_MODEL_BASE_URL", "not a url", "CULTUREBOT_MODEL_BASE_URL: Input should be a valid URL"),
        ("CULTUREBOT_MODEL_MAX_RETRIES", "-1", "CULTUREBOT_MODEL_MAX_RETRIES: Input should be greater than or equal"),
        ("CULTUREBOT_DATABASE_BACKEND", "mongodb", "CULTUREBOT_DATABASE_BACKEND: Input should be 'sqlite'"),
        ("CULTUREBOT_DATABASE_PATH", "a-file/bot.sqlite3", "CULTUREBOT_DATABASE_PATH: Value error, cannot create"),
        ("CULTUREBOT_DATABASE_PATH", ".", "CULTUREBOT_DATABASE_PATH: Value error, . is a directory"),
        ("CULTUREBOT_PRIVACY_URL", "privacy", "CULTUREBOT_PRIVACY_URL: Input should be a valid URL"),
        ("CULTUREBOT_COMMAND_SYNC", "guild", "CULTUREBOT_COMMAND_SYNC=guild needs CULTUREBOT_DEV_GUILD_IDS"),
        ("CULTUREBOT_PSEUDONYM_KEY", "tiny-key", "CULTUREBOT_PSEUDONYM_KEY: Value error, must be at least 16 bytes"),
        ("CULTUREBOT_COMMENT_PREFIX", "   ", "CULTUREBOT_COMMENT_PREFIX: Value error, must contain a visible"),
    ],
)
def test_bad_setting_is_one_clear_line(tmp_path, variable, value, expected):
    (tmp_path / "a-file").write_text("not a folder")
    result = run_cli("run", env={variable: value}, cwd=tmp_path)
    assert result.returncode == EX_CONFIG
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("culturebot: invalid configuration: ")
    assert expected.replace("Value error, ", "") in lines[0]
    assert "Traceback" not in result.stderr
    assert variable != "CULTUREBOT_PSEUDONYM_KEY" or value not in result.stderr, "a key is never echoed"


def test_secret_is_never_echoed(tmp_path):
    # A token that is valid but the model URL is not: the token must not appear in the error.
    result = run_cli(
        "run",
        env={"CULTUREBOT_DISCORD_TOKEN": "super-secret-token", "CULTUREBOT_MODEL_BASE_URL": "::"},
        cwd=tmp_path,
    )
    assert result.returncode == EX_CONFIG
    assert "super-secret-token" not in result.stderr + result.stdout


def test_env_file_is_read_and_empty_values_mean_unset(tmp_path):
    (tmp_path / ".env").write_text("CULTUREBOT_MODEL_MAX_TOKENS=0\nCULTUREBOT_MODEL_BASE_URL=\n")
    result = run_cli("run", cwd=tmp_path)
    assert result.returncode == EX_CONFIG
    assert "CULTUREBOT_MODEL_MAX_TOKENS: Input should be greater than 0" in result.stderr
    assert "MODEL_BASE_URL" not in result.stderr


def test_the_example_env_file_copied_as_it_is_starts_up_to_the_missing_token(tmp_path):
    # Every variable is listed there, most of them empty: empty means "the default" for every one.
    example = Path(__file__).parents[2] / ".env.example"
    (tmp_path / ".env").write_text(example.read_text())
    result = run_cli("run", cwd=tmp_path)
    assert result.returncode == EX_CONFIG
    assert result.stderr.startswith("culturebot: CULTUREBOT_DISCORD_TOKEN is not set"), result.stderr


def test_migrate_of_a_file_that_is_not_a_database_is_one_clear_line(tmp_path):
    (tmp_path / "notes.sqlite3").write_text("just some notes, not a database " * 40)
    result = run_cli("migrate", "--db", str(tmp_path / "notes.sqlite3"), cwd=tmp_path)
    assert result.returncode == EX_CONFIG
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("culturebot: cannot use the database ") and "notes.sqlite3" in lines[0]
    assert "not a database" in lines[0]


@pytest.mark.parametrize("command", [["migrate"], ["backup", "--out", "copy.sqlite3"]], ids=["migrate", "backup"])
def test_a_db_option_that_is_a_folder_is_named_as_the_option(tmp_path, command):
    """The operator typed --db: the refusal names it, not CULTUREBOT_DATABASE_PATH, which they never set."""
    result = run_cli(*command, "--db", str(tmp_path), cwd=tmp_path)
    assert result.returncode == EX_CONFIG
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"culturebot: invalid configuration: --db: {tmp_path} is a directory; give a file path")
    assert "CULTUREBOT_DATABASE_PATH" not in line


def test_run_without_token_says_what_to_set(tmp_path):
    result = run_cli("run", cwd=tmp_path)
    assert result.returncode == EX_CONFIG
    assert result.stderr.strip().splitlines() == [
        "culturebot: CULTUREBOT_DISCORD_TOKEN is not set: create a bot in the Discord developer portal and put "
        "its token in .env (see README, 'Create the Discord application'), or try everything locally first "
        "with `culturebot sandbox`"
    ]


def test_migrate_applies_then_reports_up_to_date(tmp_path):
    db = tmp_path / "data" / "bot.sqlite3"
    first = run_cli("migrate", "--db", str(db), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_initial" in first.stdout
    second = run_cli("migrate", "--db", str(db), cwd=tmp_path)
    assert second.returncode == 0
    assert "up to date" in second.stdout


def test_help_lists_subcommands(tmp_path):
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "migrate"):
        assert command in result.stdout


def test_unknown_subcommand_is_a_usage_error(tmp_path):
    result = run_cli("fly", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid choice: 'fly'" in result.stderr


def test_scope_validate_reports_every_problem(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    good = run_cli("scope", "validate", str(root / "scopes"), cwd=tmp_path)
    assert good.returncode == 0, good.stdout
    assert good.stdout.strip().endswith("0 problems")

    bad = root / "tests" / "scopes" / "bad"
    result = run_cli("scope", "validate", str(bad / "unknown-key.md"), str(bad / "latin1.txt"), cwd=tmp_path)
    assert result.returncode == EXIT_FAILED  # problems found
    lines = result.stdout.strip().splitlines()
    assert 'unknown-key.md:7: langauges: unknown key (fix: did you mean "languages"?' in lines[0]
    assert "latin1.txt:14: the file is not valid UTF-8" in lines[1]
    assert lines[-1] == "2 files checked, 2 problems"


def test_scope_validate_missing_file(tmp_path):
    result = run_cli("scope", "validate", "nowhere.md", cwd=tmp_path)
    assert result.returncode == EXIT_FAILED  # problems found
    assert "nowhere.md" in result.stdout
