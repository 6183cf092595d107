"""`culturebot sandbox`: a scripted run of the whole loop, failing scripts, and the interactive front end under tmux."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from bot.exit_status import EX_CONFIG, EXIT_FAILED
from bot.sandbox.app import SandboxError, SandboxOptions, _log_to_file, run_sandbox
from bot.sandbox.demo import ROLE_IDS
from bot.scopes.comparisons import assign_arm
from bot.storage import Arm

ROOT = Path(__file__).resolve().parents[2]
DEMO_SCRIPT = ROOT / "examples" / "sandbox-demo.txt"
SCOPE_FIXTURE = ROOT / "tests" / "fixtures" / "kopi_scope.md"


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """The folder Python's tempfile uses during the test, to see what a run leaves there."""
    root = tmp_path / "system-tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def rows(db, sql):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


async def test_demo_script_runs_the_whole_loop(tmp_path, capsys, temp_root, monkeypatch):
    db, out = tmp_path / "demo.sqlite3", tmp_path / "digest"
    options = SandboxOptions(scope=SCOPE_FIXTURE, db=db, script=DEMO_SCRIPT, out=out, model="fake")
    # The real bot's privacy log, set in the environment: the sandbox keeps its own beside its database.
    production_log = tmp_path / "production" / "privacy.jsonl"
    monkeypatch.setenv("CULTUREBOT_PRIVACY_LOG_FILE", str(production_log))

    assert await run_sandbox(options) == 0
    assert not production_log.exists()
    sandbox_log = (tmp_path / "demo.privacy-requests.jsonl").read_text()
    assert '"request":"consent"' in sandbox_log and '"level":"comments"' in sandbox_log

    output = capsys.readouterr().out
    text = " ".join(output.split())  # as printed, but without the terminal's line wrapping
    # Ask: the answer streamed in (several edits) under the declared scope, with the rating buttons.
    assert "ayu> How do I address my manager in a Jakarta office?" in text
    assert "Answering within the declared scope “Coffee-shop talk among Jakarta office workers" in text
    assert "[✅ Fits] [🤔 Partly fits] [❌ Does not fit] [💬 Comment]" in text
    streamed = next(line for line in output.splitlines() if "✓ answer #1" in line)
    assert int(streamed.split("streamed with ")[1].split(" edit")[0]) >= 2
    # Rate: consent first, then the stored rating, reasons and a comment through the form.
    assert "Your rating is research data" in text
    assert "Saved your choice: **ratings and comments**." in text
    assert "Thanks: you rated this answer **Fits**." in text
    assert "Saved your reasons: wrong register or formality, misses variation." in text
    assert "form “Comment on this answer” opened" in text
    assert "Thanks, your comment is saved." in text
    assert "(only you see this)" in text
    # Scope change by the moderator, logged in #mod-log, and a preview under the new version.
    assert "The scope is now **Vietnamese family dynamics" in text
    assert "[#mod-log] culturebot: @mod started from the template 'vietnamese-family-households'" in text
    assert "Preview under version 2" in text
    # The digest: summary in the terminal, files on disk.
    assert "Research digest · Demo community" in text
    for name in ("chart.png", "report.md", "report.html", "data.zip"):  # mod holds the research role
        assert (out / name).stat().st_size > 0
        assert str(out / name) in text
    with zipfile.ZipFile(out / "data.zip") as archive:
        exported = archive.read("ratings.csv").decode()
    assert len(exported.splitlines()) == 1 + 4, "the header and the demo's four ratings"
    assert "every step passed" in text
    assert f"The sandbox's data is kept in {db}" in text
    # With --db everything stays beside the database, announced; no temporary folder is left behind.
    assert f"log: {tmp_path / 'demo.sqlite3.log'}; privacy log: {tmp_path / 'demo.privacy-requests.jsonl'})" in text
    assert "INFO" in (tmp_path / "demo.sqlite3.log").read_text()
    assert list(temp_root.iterdir()) == []

    # The database holds what the bot did, under pseudonyms.
    answers = rows(
        db,
        "SELECT a.outcome, a.asker_hash, v.number, a.comparison_id, a.arm, a.answer FROM answers a "
        "JOIN scope_versions v ON v.version_id = a.scope_version_id ORDER BY a.answer_id",
    )
    assert len(answers) == 3
    outcome, _, number, comparison, arm, _ = answers[0]
    assert (outcome, number, comparison, arm) == ("ok", 1, None, None), "asked before the comparison"
    # The two questions asked during the comparison: each member's arm is the stable assignment from their
    # pseudonym, and the answer was written and recorded under that arm's version.
    assert "Running: Comparison #1: version 2 (current) for 50% of members against version 1" in text
    titles = {1: "Coffee-shop talk among Jakarta office workers", 2: "Vietnamese family dynamics"}
    for outcome, asker, number, comparison, arm, answer in answers[1:]:
        assigned = assign_arm(1, asker, 0.5)
        assert (outcome, comparison, arm) == ("ok", 1, assigned.value)
        assert number == (2 if assigned is Arm.CURRENT else 1)
        assert f"within the declared scope “{titles[number]}" in answer
    assert sorted(rows(db, "SELECT value, source FROM ratings")) == [
        (2, "button"),
        (2, "button"),
        (3, "button"),
        (3, "button"),
    ]
    assert sorted(rows(db, "SELECT tag FROM rating_reasons")) == [
        ("misses variation",),
        ("wrong register or formality",),
    ]
    assert rows(db, "SELECT text, source FROM comments") == [
        ("In our office younger managers prefer first names without Pak/Bu.", "modal")
    ]
    assert sorted(rows(db, "SELECT level FROM consents")) == [("comments",), ("ratings",)]
    assert rows(db, "SELECT number, source FROM scope_versions ORDER BY number") == [(1, "upload"), (2, "template")]
    assert rows(
        db, "SELECT v.number FROM guild_settings g JOIN scope_versions v ON v.version_id = g.current_scope_id"
    ) == [(2,)]
    assert (tmp_path / "demo.sqlite3.key").exists()


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("/scope use vietnamese-family-households", "Discord does not show /scope to ayu: it needs Manage Server."),
        (
            "/privacy status\nexpect you rated this answer",
            "expected the last output to contain 'you rated this answer'",
        ),
        ("/frobnicate", "unknown command /frobnicate; /help lists the commands"),
        ("long " * 500, "Discord takes messages of up to 2,000 characters and this one has 2,522: shorten it"),
    ],
)
async def test_a_failing_step_stops_the_script_and_exits_non_zero(tmp_path, capsys, script, reason):
    path = tmp_path / "steps.txt"
    path.write_text(
        f"# a failing step, then one that must not run\n{script}\n/as mod\n/scope use japanese-workplace-tokyo\n"
    )
    db = tmp_path / "failing.sqlite3"

    assert await run_sandbox(SandboxOptions(db=db, script=path, model="fake")) == 1

    captured = capsys.readouterr()
    failing_line = 2 if script.count("\n") == 0 else 3
    assert f"culturebot sandbox: {path}:{failing_line}: step failed:" in captured.err
    assert reason in captured.err
    assert rows(db, "SELECT number FROM scope_versions") == [(1,)], "no step ran after the failure"


async def test_without_db_the_data_goes_to_one_announced_temporary_folder(capsys, temp_root, tmp_path):
    path = tmp_path / "steps.txt"
    path.write_text("/privacy status\n")

    assert await run_sandbox(SandboxOptions(script=path, model="fake")) == 0

    (work,) = temp_root.iterdir()
    assert work.name.startswith("culturebot-sandbox-")
    assert {child.name for child in work.iterdir()} >= {"sandbox.sqlite3", "pseudonym.key", "sandbox.log"}
    text = " ".join(capsys.readouterr().out.split())
    assert f"The sandbox's data is in {work / 'sandbox.sqlite3'} (a temporary folder; delete it when done" in text


async def test_a_db_whose_folder_cannot_be_made_is_refused_before_anything_starts(tmp_path, capsys, temp_root):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")

    # Refused until something changes (another --db), as every command's refusals: EX_CONFIG, not 1.
    assert await run_sandbox(SandboxOptions(db=blocker / "data.sqlite3", model="fake")) == EX_CONFIG

    error = capsys.readouterr().err
    db = blocker / "data.sqlite3"
    assert f"culturebot sandbox: --db cannot create {db}: {blocker} is a file, not a folder" in error
    assert "choose another --db" in error
    assert blocker.read_text() == "a file where the database's folder should be"
    assert list(temp_root.iterdir()) == []


def tmux(socket: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, env=env, check=True)
    return done.stdout


def wait_for_pane(socket: str, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    pane = ""
    while time.monotonic() < deadline:
        pane = tmux(socket, "capture-pane", "-p", "-J", "-S", "-", "-t", "sandbox")
        if text in pane:
            return pane
        time.sleep(0.1)
    raise AssertionError(f"{text!r} did not appear in the sandbox's pane within {timeout}s; it shows:\n{pane}")


def test_interactive_front_end_under_tmux(tmp_path):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed to drive the interactive sandbox like a person: apt-get install -y tmux")
    socket = f"culturebot-sandbox-test-{os.getpid()}"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("CULTUREBOT_", "TMUX"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = (
        f"{sys.executable} -m bot.sandbox.app --model fake --db {tmp_path / 'tmux.sqlite3'} --out {tmp_path / 'out'}; "
        'echo "[sandbox exited $?]"; sleep 60'
    )
    tmux(socket, "new-session", "-d", "-s", "sandbox", "-x", "120", "-y", "50", "-c", str(tmp_path), command, env=env)
    try:
        wait_for_pane(socket, "ayu>")
        tmux(socket, "send-keys", "-t", "sandbox", "How do I greet my manager on my first day?", "Enter")
        pane = " ".join(wait_for_pane(socket, "✓ answer #1").split())
        assert "You asked: “How do I greet my manager on my first day?”" in pane
        assert "streamed with" in pane
        assert "→ /rate fits|partly|no" in pane

        tmux(socket, "send-keys", "-t", "sandbox", "/rate fits", "Enter")
        wait_for_pane(socket, "→ /consent ratings|comments|quotes|no")
        tmux(socket, "send-keys", "-t", "sandbox", "/consent ratings", "Enter")
        pane = " ".join(wait_for_pane(socket, "Thanks: you rated this answer **Fits**.").split())
        assert "Saved your choice: **ratings only**." in pane

        # At the prompt a question starting with "expect" is a question (in scripts `expect` is the check); asked
        # by another member, whom the cooldown does not hold back.
        tmux(socket, "send-keys", "-t", "sandbox", "/as budi", "Enter")
        wait_for_pane(socket, "budi>")
        tmux(socket, "send-keys", "-t", "sandbox", "expect my manager to greet me first?", "Enter")
        pane = " ".join(wait_for_pane(socket, "✓ answer #2").split())
        assert "You asked: “expect my manager to greet me first?”" in pane

        tmux(socket, "send-keys", "-t", "sandbox", "/quit", "Enter")
        pane = " ".join(wait_for_pane(socket, "[sandbox exited ").split())
        assert "[sandbox exited 0]" in pane
        assert f"The sandbox's data is kept in {tmp_path / 'tmux.sqlite3'}" in pane
        assert "Traceback" not in pane
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
    assert rows(tmp_path / "tmux.sqlite3", "SELECT value FROM ratings") == [(3,)]


async def test_a_scope_file_that_cannot_be_read_is_refused_with_ex_config(tmp_path, capsys, temp_root):
    missing = tmp_path / "no-such-scope.md"
    assert await run_sandbox(SandboxOptions(scope=missing, db=tmp_path / "s.sqlite3", model="fake")) == EX_CONFIG
    assert f"culturebot sandbox: cannot read the scope file {missing}" in capsys.readouterr().err


def test_a_start_that_may_succeed_when_tried_again_exits_1():
    assert SandboxError("the bot did not start: timed out", retry=True).status == EXIT_FAILED
    assert SandboxError("the scope is not valid").status == EX_CONFIG


def test_the_sandbox_log_has_no_webhook_or_interaction_tokens(tmp_path):
    """The sandbox's log file is written as the bot's own log is: tokens in Discord's URLs replaced."""
    log = tmp_path / "sandbox.log"
    with _log_to_file(log):
        logging.getLogger("discord.http").warning(
            "POST https://discord.com/api/v10/interactions/1234/aW50ZXJhY3Rpb246c2VjcmV0/callback failed"
        )
    text = log.read_text()
    assert "/interactions/1234/<token>/callback failed" in text
    assert "aW50ZXJhY3Rpb246c2VjcmV0" not in text


async def test_a_script_that_cannot_be_read_is_refused_with_ex_config(tmp_path, capsys, temp_root):
    missing = tmp_path / "no-such-script.txt"
    assert await run_sandbox(SandboxOptions(db=tmp_path / "s.sqlite3", script=missing, model="fake")) == EX_CONFIG
    assert f"culturebot sandbox: cannot read the script {missing}" in capsys.readouterr().err


def test_warnings_shown_in_the_terminal_have_no_tokens_either(tmp_path, capsys):
    with _log_to_file(tmp_path / "sandbox.log"):
        logging.getLogger("bot.digests").warning("POST /api/v10/webhooks/99/c2VjcmV0LXdlYmhvb2s failed: 503")
    shown = capsys.readouterr().out
    assert "/webhooks/99/<token> failed: 503" in shown
    assert "c2VjcmV0LXdlYmhvb2s" not in shown


async def test_settings_the_sandbox_cannot_use_are_refused_with_ex_config(tmp_path, capsys, temp_root, monkeypatch):
    monkeypatch.setenv("CULTUREBOT_LOG_LEVEL", "LOUD")
    assert await run_sandbox(SandboxOptions(db=tmp_path / "s.sqlite3", model="fake")) == EX_CONFIG
    error = capsys.readouterr().err
    assert error.startswith("culturebot sandbox: ") and "LOG_LEVEL" in error.upper()


async def test_a_db_made_with_another_key_is_refused_in_one_line_with_ex_config(
    tmp_path, capsys, temp_root, monkeypatch
):
    """README: a CULTUREBOT_PSEUDONYM_KEY in .env is used instead of FILE.key; set after a first run, it does not
    match the pseudonyms already in the database. That was a traceback and exit 1."""
    db = tmp_path / "demo.sqlite3"
    script = tmp_path / "quit.txt"
    script.write_text("/quit\n", encoding="utf-8")
    assert await run_sandbox(SandboxOptions(db=db, model="fake", script=script)) == 0
    capsys.readouterr()
    monkeypatch.setenv("CULTUREBOT_PSEUDONYM_KEY", "another-key-of-at-least-16-bytes")
    assert await run_sandbox(SandboxOptions(db=db, model="fake", script=script)) == EX_CONFIG
    error = capsys.readouterr().err
    assert "Traceback" not in error
    assert (
        f"culturebot sandbox: the pseudonymisation key (CULTUREBOT_PSEUDONYM_KEY) is not the one the pseudonyms in "
        f"{db} were made with: restore the key from your backup"
    ) in " ".join(error.split())


async def test_a_lost_key_file_is_refused_and_no_new_key_is_left_in_its_place(tmp_path, capsys, temp_root):
    """A sandbox database whose key file was lost (moved, or the database copied without it): the start says the
    file is missing, and removes the key it made before the database's check could tell, where the real one is to
    be restored."""
    db = tmp_path / "demo.sqlite3"
    script = tmp_path / "quit.txt"
    script.write_text("/quit\n", encoding="utf-8")
    assert await run_sandbox(SandboxOptions(db=db, model="fake", script=script)) == 0
    key_file = tmp_path / "demo.sqlite3.key"
    key_file.unlink()
    capsys.readouterr()
    assert await run_sandbox(SandboxOptions(db=db, model="fake", script=script)) == EX_CONFIG
    error = " ".join(capsys.readouterr().err.split())
    assert "Traceback" not in error
    assert f"culturebot sandbox: the pseudonymisation key file {key_file} is not there, and the pseudonyms in {db}" in (
        error
    )
    assert not key_file.exists(), "the key made before the check is removed again"


async def test_a_kept_database_finds_its_answer_channels_and_research_role_on_the_next_run(tmp_path, capsys, temp_root):
    """Settings name channels and roles by id: the demo server's were numbered anew every run, so after
    `/answers channel-add ask` and a restart the bot said the channels it answered in were deleted."""
    db = tmp_path / "demo.sqlite3"
    first = tmp_path / "first.txt"
    first.write_text(
        "/as mod\n/answers channel-add channel=ask\nexpect Added\n/digest research-role role=Researchers\n/quit\n",
        encoding="utf-8",
    )
    assert await run_sandbox(SandboxOptions(db=db, model="fake", script=first)) == 0
    capsys.readouterr()
    second = tmp_path / "second.txt"
    second.write_text("How do I greet my manager?\nexpect Fits\n/quit\n", encoding="utf-8")
    assert await run_sandbox(SandboxOptions(db=db, model="fake", script=second)) == 0, capsys.readouterr().out
    text = capsys.readouterr().out
    assert "every step passed" in text and "the channels I answered in were deleted" not in text
    assert rows(db, "SELECT outcome FROM answers") == [("ok",)]
    assert rows(db, "SELECT research_role_id FROM guild_settings") == [(ROLE_IDS["Researchers"],)]


async def test_the_banner_names_the_scope_in_force_and_a_template_given_replaces_a_kept_ones(
    tmp_path, capsys, temp_root
):
    """On a kept database the banner named the starting template whatever scope was in force, and `--template`
    was ignored without a word."""
    db = tmp_path / "demo.sqlite3"
    script = tmp_path / "quit.txt"
    script.write_text("/quit\n", encoding="utf-8")
    assert await run_sandbox(SandboxOptions(db=db, model="fake", script=script)) == 0
    assert "Scope: Indonesian business culture (Jakarta offices) (v1)" in printed(capsys)
    options = SandboxOptions(db=db, model="fake", script=script, template="vietnamese-family-households")
    assert await run_sandbox(options) == 0
    assert "Scope: Vietnamese family dynamics" in printed(capsys)
    assert rows(db, "SELECT number, source FROM scope_versions ORDER BY number") == [(1, "template"), (2, "template")]
    # Without --template, a kept database keeps its own scope, and the banner says which.
    assert await run_sandbox(SandboxOptions(db=db, model="fake", script=script)) == 0
    assert "Scope: Vietnamese family dynamics (multi-generational households, in Vietnam and abroad) (v2)" in printed(
        capsys
    )
    assert len(rows(db, "SELECT number FROM scope_versions")) == 2


def printed(capsys) -> str:
    """What the sandbox printed, without the terminal's line wrapping."""
    return " ".join(capsys.readouterr().out.split())


async def test_files_the_bot_attaches_are_written_where_the_sandbox_says(tmp_path, capsys, temp_root):
    """In Discord they would be downloaded: `/scope download`'s file (to edit and `/scope upload` again) and a
    member's `/privacy export` were shown as attached and written nowhere."""
    out = tmp_path / "out"
    script = tmp_path / "files.txt"
    script.write_text("/as mod\n/scope download\n/privacy export\n/quit\n", encoding="utf-8")
    assert await run_sandbox(SandboxOptions(db=tmp_path / "d.sqlite3", model="fake", script=script, out=out)) == 0
    text = printed(capsys)
    scope_file = out / "indonesian-business-jakarta-v1.md"
    assert scope_file.read_text(encoding="utf-8").startswith("+++")
    export = out / "culturebot-my-data.json"
    assert export.exists()
    assert f"Files written to {out}: {scope_file}" in text and str(export) in text


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read the script {path}: No such file or directory"), (b"\xff\xfe/quit", "is not UTF-8 text")],
)
async def test_a_script_that_cannot_be_read_is_refused_before_anything_starts(
    tmp_path, capsys, temp_root, content, message
):
    """It was found unreadable only after the bot had started, leaving a database, a key and a log behind."""
    path = tmp_path / "script.txt"
    if content is not None:
        path.write_bytes(content)
    db = tmp_path / "new" / "x.sqlite3"
    assert await run_sandbox(SandboxOptions(db=db, model="fake", script=path)) == EX_CONFIG
    error = capsys.readouterr().err
    assert error.startswith("culturebot sandbox: ") and message.format(path=path) in error
    assert not (tmp_path / "new").exists(), "nothing was made"


async def test_the_demo_servers_digest_channel_is_the_research_teams_only(tmp_path, capsys, temp_root):
    """/setup warned about the sandbox's own #digest (everyone could read the data files posted there)."""
    script = tmp_path / "setup.txt"
    script.write_text("/as mod\n/setup\nexpect Research digests\n/quit\n", encoding="utf-8")
    assert await run_sandbox(SandboxOptions(db=tmp_path / "s.sqlite3", model="fake", script=script)) == 0
    text = printed(capsys)
    assert "every step passed" in text and "Digest channel: #digest." in text
    assert "can read #digest" not in text


async def test_an_out_folder_that_cannot_be_made_is_refused_before_anything_starts(tmp_path, capsys, temp_root):
    """The first file saved (`/scope download`, a digest), a script's steps later, ended the sandbox with a
    traceback and the rest of the script unrun."""
    blocker = tmp_path / "afile"
    blocker.write_text("a file where a folder would go")
    script = tmp_path / "s.txt"
    script.write_text("/as mod\n/scope download\n/quit\n", encoding="utf-8")
    db = tmp_path / "new" / "x.sqlite3"
    options = SandboxOptions(db=db, model="fake", script=script, out=blocker / "sub")
    assert await run_sandbox(options) == EX_CONFIG
    error = capsys.readouterr().err
    assert error.startswith(f"culturebot sandbox: --out {blocker / 'sub'}: {blocker} is a file")
    assert not (tmp_path / "new").exists(), "nothing was made"


@pytest.mark.parametrize("kind", ["folder", "under a file"])
async def test_a_db_the_sandbox_cannot_use_is_refused_as_db_leaving_nothing_behind(tmp_path, capsys, temp_root, kind):
    """A folder as --db was refused as "CULTUREBOT_DATABASE_PATH: … is a directory", after making a lock file and
    a log beside it, and then the sandbox said its data was kept there; a path under a file said "cannot create the
    lock file … File exists"."""
    if kind == "folder":
        db = tmp_path / "adir"
        db.mkdir()
    else:
        (tmp_path / "afile").write_text("not a folder")
        db = tmp_path / "afile" / "x.sqlite3"
    before = sorted(path.name for path in tmp_path.iterdir())
    assert await run_sandbox(SandboxOptions(db=db, model="fake")) == EX_CONFIG
    captured = capsys.readouterr()
    assert captured.err.startswith("culturebot sandbox: --db ")
    assert "CULTUREBOT_DATABASE_PATH" not in captured.err and "lock file" not in captured.err
    assert "data is kept in" not in captured.out
    assert sorted(path.name for path in tmp_path.iterdir()) == before, "nothing made beside it"


async def test_the_default_out_folder_is_not_required_before_a_file_is_saved(tmp_path, capsys, temp_root, monkeypatch):
    """Checking the default ./digests at start refused a sandbox run from a folder where it cannot be made, though
    the run might never save a file; a folder named with --out is checked at start."""
    from bot.sandbox.app import DEFAULT_OUT

    monkeypatch.chdir(tmp_path)
    (tmp_path / DEFAULT_OUT).write_text("a file where the default folder would go")
    script = tmp_path / "s.txt"
    script.write_text("/as mod\n/setup\n/quit\n", encoding="utf-8")
    assert await run_sandbox(SandboxOptions(db=tmp_path / "s.sqlite3", model="fake", script=script)) == 0
