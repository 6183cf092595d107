"""One culturebot per database, and its files private: real `culturebot` processes against the Discord stand-in.

A second `culturebot run` (or `migrate`, or `sandbox --db`) on a running bot's database refuses to start with one
line, before it writes anything; the read-only commands (`backup`, `digest`) work beside the bot. The data folder,
the database and its -wal and -shm files, and digests are the bot user's alone, whatever umask it was started with.
"""

from __future__ import annotations

import asyncio
import signal
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.answers.interrupted import CRASH_NOTE
from bot.answers.streaming import CURSOR
from bot.exit_status import EX_CONFIG
from bot.sandbox.fake_openai import Reply
from tests.e2e.conftest import SCOPE_FIXTURE, World, declare_scope
from tests.e2e.test_shutdown import answers, ask_and_wait_for_first_text, process_env
from tests.helpers import eventually

LOOSE_UMASK = 0o022  # a shell's usual umask: without care, files come out readable by everyone

StartBot = Callable[..., Awaitable[asyncio.subprocess.Process]]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
async def start_bot(world: World) -> AsyncIterator[StartBot]:
    """Start `culturebot run` processes (under a loose umask); any still running after the test is killed."""
    started: list[asyncio.subprocess.Process] = []

    async def start(*, scope: bool = True, **extra: str) -> asyncio.subprocess.Process:
        if scope:
            await declare_scope(world.settings(), world.guild_id, SCOPE_FIXTURE)
        identified = world.standin.identify_count
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=process_env(world, **extra), cwd=world.tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, umask=LOOSE_UMASK,
        )  # fmt: skip
        started.append(process)
        await world.standin.wait_for_identify(count=identified + 1, timeout=30)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def culturebot(world: World, *args: str, timeout: float = 30, **extra: str) -> tuple[int, str, str]:
    """Run a `culturebot` command with the running bot's settings; its status, stdout and stderr. A command still
    running after `timeout` (a second bot that did start) is killed and fails the test."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=process_env(world, **extra), cwd=world.tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, umask=LOOSE_UMASK,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    assert b"Traceback" not in err, err.decode()
    return process.returncode, out.decode(), err.decode()


async def stop(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, output.decode()
    return output.decode()


async def test_a_second_bot_on_the_same_database_refuses_to_start_and_leaves_the_first_ones_answer(
    world: World, start_bot: StartBot
) -> None:
    world.model.script(Reply(" ".join(f"w{i}" for i in range(160)), tokens_per_second=20))  # about 8 seconds
    first = await start_bot()
    sessions = world.standin.identify_count
    message = await ask_and_wait_for_first_text(world)
    await eventually(lambda: answers(world), 15, "the answer's record")

    status, _, err = await culturebot(world, "run")

    assert status == EX_CONFIG
    db = world.tmp_path / "bot.sqlite3"
    assert err.strip().splitlines() == [
        f"culturebot: another culturebot (pid {first.pid}) is using the database {db}; stop it first, or give this "
        "one its own CULTUREBOT_DATABASE_PATH"
    ]
    assert world.standin.identify_count == sessions, "the second bot never connected"
    assert answers(world)[0][0] == "streaming", "the first bot's live answer is not taken for one a crash cut off"
    await eventually(lambda: answers(world)[0][0] == "ok", 30, "the first bot to finish its answer")
    content = world.standin.message(message.id).content
    assert CRASH_NOTE not in content and not content.endswith(CURSOR)
    await stop(first)


async def test_migrate_and_a_sandbox_refuse_a_running_bots_database_and_read_only_commands_work_beside_it(
    world: World, start_bot: StartBot
) -> None:
    first = await start_bot()
    db = world.tmp_path / "bot.sqlite3"
    in_use = f"another culturebot (pid {first.pid}) is using the database {db}"

    status, _, err = await culturebot(world, "migrate")
    assert (status, err.strip().splitlines()) == (
        EX_CONFIG,
        [f"culturebot: {in_use}; stop it first (it applies migrations itself when it starts)"],
    )
    script = world.tmp_path / "script.txt"
    script.write_text("/help\n")
    status, _, err = await culturebot(world, "sandbox", "--db", str(db), "--model", "fake", "--script", str(script))
    assert status == EX_CONFIG
    assert f"culturebot sandbox: {in_use}; stop it first, or give the sandbox another --db" in err.splitlines()

    # Reading the database beside the bot stays possible.
    status, out, err = await culturebot(world, "backup", "--out", str(world.tmp_path / "copy.sqlite3"))
    assert status == 0, err
    today = datetime.now(UTC).date().isoformat()
    status, out, err = await culturebot(
        world, "digest", "--db", str(db), "--guild", str(world.guild_id), "--from", today, "--to", today,
        "--out", str(world.tmp_path / "digest"),
    )  # fmt: skip
    assert status == 0, err

    await stop(first)
    # The lock went with the process (its file stays, naming the old pid): the database is free again.
    status, out, err = await culturebot(world, "migrate")
    assert status == 0, err
    assert "up to date" in out


async def test_the_data_folder_database_and_digests_are_readable_by_the_bots_user_only(
    world: World, start_bot: StartBot
) -> None:
    data = world.tmp_path / "data"
    db = data / "bot.sqlite3"
    first = await start_bot(scope=False, CULTUREBOT_DATABASE_PATH=str(db))
    assert mode(data) == 0o700
    for name in ("bot.sqlite3", "bot.sqlite3-wal", "bot.sqlite3-shm", "bot.sqlite3.lock"):
        assert mode(data / name) == 0o600, name
    await stop(first)

    # A database an older culturebot left readable by everyone is made private at the next start, and said.
    db.chmod(0o644)
    again = await start_bot(scope=False, CULTUREBOT_DATABASE_PATH=str(db))
    assert mode(db) == 0o600
    output = await stop(again)
    assert f"made {db} readable and writable by its owner only" in output
    assert "it was open to other users: bot.sqlite3 (mode 644)" in output

    out = world.tmp_path / "digest"
    today = datetime.now(UTC).date().isoformat()
    status, _, err = await culturebot(
        world, "digest", "--db", str(db), "--guild", str(world.guild_id), "--from", today, "--to", today,
        "--out", str(out),
    )  # fmt: skip
    assert status == 0, err
    written = list(out.rglob("*"))
    assert written
    assert mode(out) == 0o700
    assert {(path.name, mode(path)) for path in written} == {
        (path.name, 0o700 if path.is_dir() else 0o600) for path in written
    }
