"""The fake OpenAI-compatible server, exercised with the real `openai.AsyncOpenAI` client over real sockets."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from bot.sandbox.fake_openai import (
    DEFAULT_REPLY_TEXT,
    CutStream,
    FakeOpenAI,
    Hang,
    MalformedChunk,
    RateLimited,
    Reply,
    ServerError,
    Usage,
    split_tokens,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You answer questions about Basque culture."},
    {"role": "user", "content": "What is a txoko?"},
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(model="fake-model") as server:
        yield server


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    api = openai.AsyncOpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0, timeout=2.0)
    yield api
    await api.close()


async def ask(client: openai.AsyncOpenAI) -> str:
    completion = await client.chat.completions.create(model="fake-model", messages=MESSAGES)
    return completion.choices[0].message.content or ""


async def collect(client: openai.AsyncOpenAI, **kwargs: Any) -> list[ChatCompletionChunk]:
    stream = await client.chat.completions.create(model="fake-model", messages=MESSAGES, stream=True, **kwargs)
    return [chunk async for chunk in stream]


async def drain(stream: openai.AsyncStream[ChatCompletionChunk], into: list[str]) -> None:
    """Append the content deltas of `stream` to `into` as they arrive (so they survive an exception)."""
    async for chunk in stream:
        into.append(chunk.choices[0].delta.content or "")


def content_of(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# --- basics ------------------------------------------------------------------------------------------------


def test_split_tokens_preserves_text() -> None:
    text = "  Hello,  world!\nNew line. "
    assert "".join(split_tokens(text)) == text
    assert split_tokens("one two") == ["one", " two"]
    assert split_tokens("") == []


async def test_lifecycle_and_base_url() -> None:
    fake = FakeOpenAI()
    with pytest.raises(RuntimeError):
        _ = fake.base_url
    url = await fake.start(host="127.0.0.1", port=0)
    try:
        assert url == fake.base_url == f"http://127.0.0.1:{fake.port}/v1"
        assert fake.port > 0
    finally:
        await fake.stop()
    await fake.stop()  # idempotent


async def test_streamed_content(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script("A txoko is a gastronomic society.")
    chunks = await collect(client)
    assert content_of(chunks) == "A txoko is a gastronomic society."
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert all(c.usage is None for c in chunks)  # no usage unless asked for
    # One token-ish piece per content chunk.
    assert [c.choices[0].delta.content for c in chunks[1:-1]] == split_tokens("A txoko is a gastronomic society.")


async def test_streamed_usage_chunk(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script("Four words right here.")
    chunks = await collect(client, stream_options={"include_usage": True})
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens == 4
    assert last.usage.prompt_tokens == len(split_tokens(MESSAGES[0]["content"])) + 4  # type: ignore[arg-type]
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert content_of(chunks) == "Four words right here."


async def test_usage_override(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script(Reply("x", usage=Usage(prompt_tokens=100, completion_tokens=7)))
    completion = await client.chat.completions.create(model="fake-model", messages=MESSAGES)
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (100, 7)
    assert completion.usage.total_tokens == 107


async def test_non_streamed(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script(Reply("Short answer.", finish_reason="length"))
    completion = await client.chat.completions.create(model="some-other-model", messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.model == "some-other-model"  # echoed, like real servers
    assert completion.choices[0].message.content == "Short answer."
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 2
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 2


async def test_reasoning_streamed_before_content(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script(Reply("The answer.", reasoning="Let me think about it."))
    chunks = await collect(client)
    kinds: list[str] = []
    reasoning = ""
    for c in chunks:
        delta = c.choices[0].delta
        piece = getattr(delta, "reasoning_content", None)
        if piece:
            kinds.append("reasoning")
            reasoning += piece
        if delta.content:
            kinds.append("content")
    assert reasoning == "Let me think about it."
    assert content_of(chunks) == "The answer."
    assert kinds == ["reasoning"] * 5 + ["content"] * 2


async def test_reasoning_not_streamed(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script(Reply("The answer.", reasoning="Thinking."))
    completion = await client.chat.completions.create(model="fake-model", messages=MESSAGES)
    message = completion.choices[0].message
    assert message.content == "The answer."
    assert getattr(message, "reasoning_content", None) == "Thinking."


async def test_reasoning_field_name(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script(Reply("Done.", reasoning="Hmm.", reasoning_field="reasoning"))
    chunks = await collect(client)
    assert [getattr(c.choices[0].delta, "reasoning", None) for c in chunks[1:3]] == ["Hmm.", None]
    assert not any(getattr(c.choices[0].delta, "reasoning_content", None) for c in chunks)
    assert content_of(chunks) == "Done."


async def test_response_format_returns_text_as_is(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script('{"scope": "Basque Country", "answer": "A club."}')
    completion = await client.chat.completions.create(
        model="fake-model",
        messages=MESSAGES,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}},
        },
    )
    assert json.loads(completion.choices[0].message.content or "") == {
        "scope": "Basque Country",
        "answer": "A club.",
    }
    assert fake.last_request.json["response_format"]["type"] == "json_schema"


async def test_models(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    models = await client.models.list()
    assert [m.id for m in models.data] == ["fake-model"]
    model = await client.models.retrieve("fake-model")
    assert model.id == "fake-model"
    assert fake.requests[0].path == "/v1/models"
    assert fake.chat_requests == []


# --- scripting ---------------------------------------------------------------------------------------------


async def test_scripted_order_then_default(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script("first", Reply("second"))
    assert fake.pending_replies == 2
    assert [await ask(client) for _ in range(3)] == ["first", "second", DEFAULT_REPLY_TEXT]
    fake.default_reply = "changed default"
    assert await ask(client) == "changed default"


async def test_callable_responders(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    def echo(body: dict[str, Any]) -> Reply:
        return Reply("You asked: " + body["messages"][-1]["content"])

    fake.default_reply = echo
    assert await ask(client) == "You asked: What is a txoko?"

    async def async_echo(body: dict[str, Any]) -> str:
        await asyncio.sleep(0)
        return str(body["model"])

    fake.default_reply = async_echo
    assert await ask(client) == "fake-model"


async def test_broken_responder_is_a_500_naming_the_error(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    def broken(body: dict[str, Any]) -> Reply:
        raise KeyError("oops")

    fake.default_reply = broken
    with pytest.raises(openai.InternalServerError, match="KeyError"):
        await ask(client)
    assert isinstance(fake.last_request.extra["responder_error"], KeyError)


async def test_request_recording(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    before = time.monotonic()
    await ask(client)
    await collect(client, temperature=0.2)
    first, second = fake.chat_requests
    assert fake.last_request is second
    assert first.path == "/v1/chat/completions"
    assert first.method == "POST"
    assert first.api_key == "test-key"
    assert first.headers["authorization"] == "Bearer test-key"
    assert first.model == "fake-model"
    assert first.messages == MESSAGES
    assert first.system_prompt == "You answer questions about Basque culture."
    assert not first.stream
    assert second.stream
    assert second.json["temperature"] == 0.2
    assert first.status == 200
    assert before <= first.received_at <= (first.first_chunk_at or 0) <= (first.finished_at or 0)
    assert first.reply == Reply(DEFAULT_REPLY_TEXT)


async def test_wait_for_requests(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    waiter = asyncio.create_task(fake.wait_for_requests(2, timeout=2.0))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await asyncio.gather(ask(client), ask(client))
    assert len(await waiter) == 2
    with pytest.raises(TimeoutError, match="received 2"):
        await fake.wait_for_requests(3, timeout=0.05)


async def test_last_request_without_requests(fake: FakeOpenAI) -> None:
    with pytest.raises(AssertionError):
        _ = fake.last_request


async def test_ttft_and_token_rate_are_honoured(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    text = "one two three four five six"  # 6 pieces: 5 gaps of 1/50 s after the ttft
    fake.script(Reply(text, ttft=0.2, tokens_per_second=50), Reply(text, ttft=0.2, tokens_per_second=50))
    start = time.monotonic()
    stream = await client.chat.completions.create(model="fake-model", messages=MESSAGES, stream=True)
    first_content_at: float | None = None
    async for chunk in stream:
        if first_content_at is None and chunk.choices and chunk.choices[0].delta.content:
            first_content_at = time.monotonic()
    end = time.monotonic()
    assert first_content_at is not None
    assert first_content_at - start >= 0.2
    assert end - start >= 0.2 + 5 / 50
    record = fake.last_request
    assert record.ttft is not None
    assert record.ttft >= 0.2

    start = time.monotonic()
    assert await ask(client) == text  # not streamed: the same total time
    assert time.monotonic() - start >= 0.2 + 5 / 50


# --- faults ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limited(fake: FakeOpenAI, client: openai.AsyncOpenAI, stream: bool) -> None:
    fake.fail_next(RateLimited(retry_after=1.5))
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="fake-model", messages=MESSAGES, stream=stream)
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "1.5"
    assert caught.value.response.headers["retry-after-ms"] == "1500"
    assert caught.value.code == "rate_limit_exceeded"
    assert fake.last_request.status == 429


@pytest.mark.parametrize("stream", [False, True])
async def test_server_error(fake: FakeOpenAI, client: openai.AsyncOpenAI, stream: bool) -> None:
    fake.fail_next(ServerError())
    fake.fail_next(ServerError(status=503))
    for status in (500, 503):
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model="fake-model", messages=MESSAGES, stream=stream)
        assert caught.value.status_code == status
        assert caught.value.type == "server_error"


@pytest.mark.parametrize("stream", [False, True])
async def test_hang_times_out(fake: FakeOpenAI, stream: bool) -> None:
    fake.fail_next(Hang(seconds=5))
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0, timeout=0.2) as client:
        start = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="fake-model", messages=MESSAGES, stream=stream)
        assert time.monotonic() - start >= 0.2


async def test_stop_ends_hangs_promptly() -> None:
    fake = FakeOpenAI()
    await fake.start()
    fake.fail_next(Hang(seconds=30))
    client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0, timeout=10)
    request = asyncio.create_task(ask(client))
    await fake.wait_for_requests(1)
    start = time.monotonic()
    await fake.stop()
    assert time.monotonic() - start < 2
    with pytest.raises(openai.APIConnectionError):
        await request
    await client.close()


async def test_cut_stream(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.fail_next(CutStream(after_chunks=2))
    fake.script("one two three four")
    stream = await client.chat.completions.create(model="fake-model", messages=MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError) as caught:
        await drain(stream, received)
    assert "".join(received) == "one two"
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)
    assert fake.pending_replies == 1  # fail_next did not consume the scripted reply
    assert await ask(client) == "one two three four"


async def test_cut_non_streamed(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script(Reply("A long enough answer.", fault=CutStream(after_chunks=1)))
    with pytest.raises(openai.APIConnectionError):
        await ask(client)
    assert fake.pending_replies == 0  # a scripted fault consumes its reply


async def test_malformed_chunk(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.fail_next(MalformedChunk(after_chunks=1))
    stream = await client.chat.completions.create(model="fake-model", messages=MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(json.JSONDecodeError):
        await drain(stream, received)
    assert "".join(received) == "This"


async def test_malformed_non_streamed(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.fail_next(MalformedChunk())
    with pytest.raises(json.JSONDecodeError):
        await ask(client)


async def test_client_retries_after_rate_limit(fake: FakeOpenAI) -> None:
    fake.fail_next(RateLimited(retry_after=0.3), count=2)
    fake.script("finally")
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=2, timeout=2) as client:
        start = time.monotonic()
        assert await ask(client) == "finally"
        assert time.monotonic() - start >= 0.6  # the client honoured retry-after twice
    assert [r.status for r in fake.chat_requests] == [429, 429, 200]


async def test_unknown_path_is_404(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        await client.embeddings.create(model="fake-model", input="x")
    assert fake.requests[-1].path == "/v1/embeddings"


# --- python -m bot.sandbox.fake_openai -------------------------------------------------------------------


async def test_module_entry_point() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sandbox.fake_openai",
        "--port",
        "0",
        "--reply",
        "From another process.",
        "--ttft",
        "0.05",
        "--tokens-per-second",
        "1000",
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=10)).decode().strip()
        assert line.startswith("READY http://127.0.0.1:")
        base_url = line.removeprefix("READY ")
        assert base_url.endswith("/v1")
        async with openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0, timeout=5) as client:
            assert await ask(client) == "From another process."
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=5) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
