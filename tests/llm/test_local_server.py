"""The embedded local model server, run for real: llama_cpp.server serving the bundled SmolLM2-135M.

These tests need the ``local`` extra. They are not skipped without it: a missing extra fails loudly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from bot.llm.local_server import (
    LocalModelError,
    LocalModelServer,
    LocalModelStartError,
    LocalModelUnavailable,
    find_bundled_gguf,
    resolve_model_path,
)

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Name three fruits."},
]


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _stream_text(server: LocalModelServer, max_tokens: int = 24) -> list[str]:
    """Stream one chat completion through the real OpenAI client; return the text pieces."""
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    try:
        stream = await client.chat.completions.create(
            model=server.model, messages=MESSAGES, max_tokens=max_tokens, temperature=0.0, stream=True
        )
        pieces = [
            chunk.choices[0].delta.content async for chunk in stream if chunk.choices and chunk.choices[0].delta.content
        ]
    finally:
        await client.close()
    return pieces


@pytest.mark.local_model
def test_find_bundled_gguf_finds_the_model_file() -> None:
    path = find_bundled_gguf()
    assert path.is_file()
    assert path.suffix == ".gguf"
    assert path.stat().st_size > 50 * 1024 * 1024
    assert resolve_model_path(None) == path


async def test_missing_user_model_path_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    with pytest.raises(LocalModelUnavailable, match="does not exist") as info:
        await LocalModelServer(missing).start()
    assert str(missing) in str(info.value)


def test_a_file_that_is_not_gguf_is_refused_before_the_server_starts(tmp_path: Path) -> None:
    empty = tmp_path / "model.gguf"
    empty.write_bytes(b"")
    with pytest.raises(LocalModelUnavailable, match="is not a GGUF model file") as info:
        resolve_model_path(empty)
    assert str(empty) in str(info.value)


def test_directory_as_model_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LocalModelUnavailable, match="is not a file") as info:
        resolve_model_path(tmp_path)
    assert str(tmp_path) in str(info.value)


@pytest.mark.local_model
async def test_invalid_gguf_fails_with_the_log_tail(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"GGUF" + b"then not a GGUF file" * 100)  # starts as one: the server child finds out
    server = LocalModelServer(bogus, startup_timeout=60)
    with pytest.raises(LocalModelStartError, match="exited with code") as info:
        await server.start()
    assert "Last lines of its log:" in str(info.value), "no path: the temporary log is deleted when it stops"
    assert server.pid is None
    await server.stop()  # idempotent after a failed start


@pytest.mark.local_model
async def test_streamed_chat_completion_then_stop(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    started = time.monotonic()
    async with LocalModelServer(log_path=log_path) as server:
        print(f"server start: {time.monotonic() - started:.2f} s")
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.base_url.endswith("/v1")
        assert server.model == "smollm2-135m-instruct"
        pid = server.pid
        assert pid is not None
        assert _pid_exists(pid)
        proc = server._proc
        assert proc is not None

        pieces = await _stream_text(server)
        text = "".join(pieces).strip()
        print(f"reply: {text!r}")
        assert text
        assert len(pieces) >= 3
        assert server.restarts == 0

    assert proc.returncode is not None
    assert not _pid_exists(pid)
    assert server.pid is None
    assert log_path.stat().st_size > 0  # the child's output went to the log file
    await server.stop()  # idempotent


@pytest.mark.local_model
async def test_supervisor_restarts_a_killed_child(caplog: pytest.LogCaptureFixture) -> None:
    async with LocalModelServer(restart_backoff=0.1) as server:
        base_url = server.base_url
        old_pid = server.pid
        assert old_pid is not None

        with caplog.at_level("WARNING", logger="bot.llm.local_server"):
            os.kill(old_pid, signal.SIGKILL)
            async with asyncio.timeout(60):
                while server.restarts == 0:  # noqa: ASYNC110 - the counter is the API under test
                    await asyncio.sleep(0.05)
                await server.wait_ready()

        assert server.restarts == 1
        assert server.base_url == base_url  # same port after the restart
        new_pid = server.pid
        assert new_pid is not None
        assert new_pid != old_pid
        assert not _pid_exists(old_pid)
        assert any("died unexpectedly" in r.message for r in caplog.records if r.levelname == "WARNING")

        pieces = await _stream_text(server, max_tokens=8)
        assert "".join(pieces).strip()
        assert server.restarts == 1
    assert not _pid_exists(new_pid)


@pytest.mark.local_model
async def test_supervisor_gives_up_past_max_restarts() -> None:
    async with LocalModelServer(max_restarts=0) as server:
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        async with asyncio.timeout(30):
            while server.pid is not None:  # noqa: ASYNC110 - wait for the event loop to reap the child
                await asyncio.sleep(0.05)
            with pytest.raises(LocalModelError, match="not running"):
                await server.wait_ready()
        assert server.gave_up
        assert server.restarts == 0
        assert server.pid is None
