"""The real `culturebot run` process: SIGTERM during a streaming answer leaves the database consistent."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys

from bot.answers.interrupted import CRASH_NOTE
from bot.answers.pipeline import INTERRUPTED_NOTE, PROGRESS_EVERY
from bot.answers.streaming import CURSOR
from bot.exit_status import EX_CONFIG
from bot.sandbox.fake_openai import Reply
from tests.e2e.conftest import SCOPE_FIXTURE, declare_scope
from tests.helpers import eventually


def process_env(world, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUREBOT_")}
    env.update(
        {
            "CULTUREBOT_DISCORD_TOKEN": world.standin.token,
            "CULTUREBOT_DISCORD_API_BASE": world.standin.api_base,
            "CULTUREBOT_DISCORD_GATEWAY_URL": world.standin.gateway_url,
            "CULTUREBOT_GUILD_READY_TIMEOUT": "0.05",
            "CULTUREBOT_DATABASE_PATH": str(world.tmp_path / "bot.sqlite3"),
            "CULTUREBOT_PSEUDONYM_KEY_FILE": str(world.tmp_path / "pseudonym.key"),
            "CULTUREBOT_MODEL_BASE_URL": world.model.base_url,
            "CULTUREBOT_MODEL_NAME": "fake-model",
            "CULTUREBOT_STREAM_EDIT_INTERVAL": "0.2",
        }
    )
    env.update(extra)
    return env


async def start_bot_process(world, **extra):
    await declare_scope(world.settings(), world.guild_id, SCOPE_FIXTURE)
    identified = world.standin.identify_count
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=process_env(world, **extra),
        cwd=world.tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    await world.standin.wait_for_identify(count=identified + 1, timeout=30)
    return process


async def refused_start(world, **extra) -> str:
    """Run `culturebot run`, expect it to refuse to start (exit EX_CONFIG, no traceback); its stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=process_env(world, **extra), cwd=world.tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    text = stderr.decode()
    assert process.returncode == EX_CONFIG, text
    assert "Traceback" not in text, text
    return text


def answers(world):
    with sqlite3.connect(world.tmp_path / "bot.sqlite3") as conn:
        return conn.execute("SELECT outcome, answer, error FROM answers").fetchall()


def linked_messages(world) -> int:
    with contextlib.closing(sqlite3.connect(world.tmp_path / "bot.sqlite3")) as conn:
        return int(conn.execute("SELECT count(*) FROM answer_messages").fetchone()[0])


async def ask_and_wait_for_first_text(world):
    await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Tell me slowly"))
    return await world.standin.wait_for_message(world.channel_id, timeout=15)


async def test_sigterm_mid_answer_interrupts_cleanly_and_exits_zero(world):
    slow = " ".join(f"w{i}" for i in range(400))
    world.model.script(Reply(slow, tokens_per_second=20))
    process = await start_bot_process(world, CULTUREBOT_SHUTDOWN_GRACE_SECONDS="0.3")
    first = await ask_and_wait_for_first_text(world)
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, output.decode()
    assert b"Traceback" not in output
    assert b"shut down cleanly" in output

    [(outcome, text, error)] = answers(world)
    assert outcome == "incomplete"
    assert error == "interrupted by shutdown"
    assert text.startswith("w0 w1")
    message = world.standin.message(first.id)
    assert not message.content.endswith(CURSOR), "no message is left looking unfinished"
    assert "interrupted" in message.content
    with sqlite3.connect(world.tmp_path / "bot.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # The WAL was checkpointed into the main file on close.
    wal = world.tmp_path / "bot.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0


async def test_sigterm_before_the_first_text_tells_the_member_to_ask_again_and_records_no_answer_shown(world):
    """Not "the model failed": the bot is restarting. And an answer no member saw is not counted as shown."""
    world.model.script(Reply("Too late.", ttft=30))
    process = await start_bot_process(world, CULTUREBOT_SHUTDOWN_GRACE_SECONDS="0.3")
    await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Tell me slowly"))
    await eventually(lambda: len(world.model.chat_requests) == 1, what="the model asked")
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, output.decode()
    assert answers(world) == [("failed", "", "interrupted by shutdown before any text")]
    [line] = world.standin.bot_messages(world.channel_id)
    assert line.content == "I'm restarting; please ask again in a minute."


async def test_sigterm_lets_a_short_answer_finish(world):
    world.model.script(Reply("A short answer that finishes.", ttft=0.3, tokens_per_second=20))
    process = await start_bot_process(world, CULTUREBOT_SHUTDOWN_GRACE_SECONDS="10")
    await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Quick one?"))
    await world.model.wait_for_requests(1, timeout=15)
    process.send_signal(signal.SIGINT)
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, output.decode()
    [(outcome, text, _)] = answers(world)
    assert (outcome, text) == ("ok", "A short answer that finishes.")


async def test_restart_after_crash_marks_orphaned_answer_incomplete(world):
    slow = " ".join(f"w{i}" for i in range(400))
    world.model.script(Reply(slow, tokens_per_second=20))
    process = await start_bot_process(world)
    await ask_and_wait_for_first_text(world)
    # The record is written alongside the model request, not before the first text: wait for it (a busy machine
    # can show the text first), then crash mid-answer.
    await eventually(lambda: answers(world), 15, "the answer's record")
    # And for the message's link to it, written just after the message is sent: the next start finds the message
    # to close through it (a crash between the two leaves that message as it is).
    await eventually(lambda: linked_messages(world) == 1, 15, "the message linked to its answer")
    process.kill()  # no chance to clean up
    await process.wait()
    assert answers(world)[0][0] == "streaming"
    [message] = world.standin.bot_messages(world.channel_id)
    assert world.standin.message(message.id).content.endswith(CURSOR), "left as the crash found it"
    restarted = await start_bot_process(world)
    await eventually(lambda: answers(world)[0][0] == "incomplete", 15, "the orphaned answer to be closed")
    # Its message no longer looks as if it were still being written, and says why it stops.
    await eventually(
        lambda: world.standin.message(message.id).content.endswith(CRASH_NOTE), 15, "the message to be closed"
    )
    assert CURSOR not in world.standin.message(message.id).content
    restarted.send_signal(signal.SIGTERM)
    await asyncio.wait_for(restarted.communicate(), 30)
    assert restarted.returncode == 0


async def test_a_crash_mid_answer_keeps_the_text_streamed_until_a_few_seconds_before_in_its_record(world):
    """The record holds an answer's text while it streams (saved every PROGRESS_EVERY seconds), so research data
    keeps what members saw of an answer a crash cut off, not an empty answer."""
    slow = " ".join(f"w{i}" for i in range(400))
    world.model.script(Reply(slow, tokens_per_second=20))
    process = await start_bot_process(world)
    await ask_and_wait_for_first_text(world)
    await eventually(lambda: answers(world) and answers(world)[0][1], PROGRESS_EVERY + 10, "the text so far saved")
    await eventually(lambda: linked_messages(world) == 1, 15, "the message linked to its answer")
    process.kill()
    await process.wait()
    [(outcome, saved, _)] = answers(world)
    assert outcome == "streaming"
    assert slow.startswith(saved) and saved.startswith("w0 w1"), saved
    restarted = await start_bot_process(world)
    await eventually(lambda: answers(world)[0][0] == "incomplete", 15, "the orphaned answer to be closed")
    assert answers(world)[0][1:] == (saved, "interrupted by a restart"), "the text is kept when the record is closed"
    restarted.send_signal(signal.SIGTERM)
    await asyncio.wait_for(restarted.communicate(), 30)
    assert restarted.returncode == 0


async def test_sigterm_mid_preview_interrupts_it_as_an_answer(world):
    """A moderator's /scope preview is one of the answers a shutdown waits for and then interrupts: it ends with
    the note, not a cursor left in the private message."""
    slow = " ".join(f"w{i}" for i in range(400))
    world.model.script(Reply(slow, tokens_per_second=20))
    role = world.standin.add_role(world.guild_id, "Moderators", permissions=1 << 5)  # MANAGE_GUILD
    moderator = int(world.standin.add_member(world.guild_id, "mod-sari", roles=[role["id"]])["user"]["id"])
    process = await start_bot_process(world, CULTUREBOT_SHUTDOWN_GRACE_SECONDS="0.3")
    interaction = await world.standin.invoke_command(
        world.guild_id, world.channel_id, moderator, "scope preview", {"question": "How do I greet my boss?"}
    )
    preview = await world.standin.wait_for_followup(interaction, count=2, timeout=15)
    await world.standin.wait_for(lambda: world.standin.message(preview.id).content.startswith("w0"), timeout=15)
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, output.decode()
    assert b"Traceback" not in output
    assert b"interrupting 1 answer(s) still running" in output
    content = world.standin.message(preview.id).content
    assert content.startswith("w0 w1") and content.endswith(INTERRUPTED_NOTE), content
    assert CURSOR not in content


async def test_a_refused_start_up_request_is_one_clear_line(world):
    # Commands synced to a server the bot is not in.
    text = await refused_start(world, CULTUREBOT_COMMAND_SYNC="guild", CULTUREBOT_DEV_GUILD_IDS="4242")
    assert "culturebot: Discord refused a request at start-up (syncing slash commands to CULTUREBOT_DEV_GUILD_IDS" in (
        text
    )


async def test_a_lost_key_file_stops_the_start_instead_of_making_new_pseudonyms(world):
    process = await start_bot_process(world)  # the first start makes the key and records its fingerprint
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    key_file = world.tmp_path / "pseudonym.key"
    key_file.unlink()  # lost, or the bot started from another directory
    text = await refused_start(world)
    assert f"culturebot: the pseudonymisation key file {key_file} is not there, and the pseudonyms in" in text
    assert "restore the file from your backup" in " ".join(text.split())
    # The key the start made before it could tell is removed again: the real one is to be restored there.
    assert "created a new pseudonymisation key" in text and "removed the pseudonymisation key just made" in text
    assert not key_file.exists()


async def test_sigterm_while_setting_up_stops_cleanly(world):
    """A signal while the bot is still setting up (here: waiting out a rate limit on the command sync) stops
    the setting up and exits 0, instead of going on against a closed client and ending in a traceback."""
    world.standin.fail_next("PUT", r"/applications/\d+/commands", status=429, retry_after=5, count=3)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=process_env(world), cwd=world.tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    await eventually(lambda: any(r.fault for r in world.standin.requests), 30, "the command sync to be rate limited")
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, output.decode()
    assert b"Traceback" not in output
    assert b"shut down cleanly" in output
    with sqlite3.connect(world.tmp_path / "bot.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_a_model_base_url_without_v1_stops_the_start_with_the_fix(world):
    root = world.model.base_url.removesuffix("/v1")
    text = await refused_start(world, CULTUREBOT_MODEL_BASE_URL=root)
    assert f"set CULTUREBOT_MODEL_BASE_URL={root}/v1" in text


async def test_a_job_running_at_shutdown_finishes_within_the_grace_period(world, run_bot, monkeypatch):
    """The daily purge is running when the bot is asked to stop: it gets the grace period, as answers and digests
    do. The scheduler's own shutdown cancelled it at once, its transaction rolled back."""
    from datetime import UTC, datetime, timedelta

    from bot.storage import sqlite_timestamp
    from tests.e2e.test_feedback import ask, rows

    async with run_bot() as bot:
        await ask(world)
        started, go_on = asyncio.Event(), asyncio.Event()
        purge = bot.storage.purge_expired_text

        async def purge_slowly(now_iso):
            started.set()
            await go_on.wait()
            # As if the answer were past the retention period: the purge has something to remove.
            return await purge(sqlite_timestamp(datetime.now(UTC) + timedelta(days=400)))

        monkeypatch.setattr(bot.storage, "purge_expired_text", purge_slowly)
        bot.jobs._scheduler.modify_job("retention", next_run_time=datetime.now(UTC))
        await asyncio.wait_for(started.wait(), 10)
        asyncio.get_running_loop().call_later(0.5, go_on.set)  # finishes while the bot is closing
    assert rows(world, "SELECT question, answer FROM answers") == [("", "")], "the purge finished"
