"""The fake OpenAI-compatible server (aiohttp)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
from collections import deque
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from ._model import (
    CHAT_COMPLETIONS_PATH,
    CutStream,
    EmptyStream,
    EndsQuietly,
    Fault,
    Hang,
    HoldsAfterDone,
    KeepAliveOnly,
    MalformedChunk,
    RateLimited,
    RecordedRequest,
    Reply,
    Responder,
    ServerError,
    Usage,
    count_tokens,
    message_text,
    split_tokens,
)

__all__ = ["DEFAULT_REPLY_TEXT", "FakeOpenAI"]

DEFAULT_REPLY_TEXT = "This is a scripted answer."
MALFORMED_DATA = b"{not json"
_SHUTDOWN_TIMEOUT = 1.0
_PLACEHOLDER = "\x00piece\x00"  # never in a reply: the fake's replies are text
_SHORT_SLEEP = 0.05  # seconds; shorter sleeps are not interrupted by stopping
_log = logging.getLogger(__name__)


class _Stopping(Exception):
    """Raised inside a handler when the server is stopping mid-response."""


class FakeOpenAI:
    """A scripted stand-in for an OpenAI-compatible chat-completions server, over real HTTP.

    Replies are taken, one per chat-completions request, first from the faults queued by `fail_next`,
    then from the replies queued by `script`, then from `default_reply` (a `Reply`, a string, or a
    responder called with the request body).  A fault from `fail_next` does not consume a scripted reply,
    so a retrying client gets the scripted reply on its next attempt.

    Every request (any path) is recorded in `requests`; `chat_requests`, `last_request` and
    `wait_for_requests` only look at chat-completions requests.  Any API key is accepted, unless `api_key` is
    given: requests with another key then get HTTP 401, as OpenAI answers them.
    """

    def __init__(
        self,
        model: str = "fake-model",
        *,
        default_reply: Reply | str | Responder | None = None,
        api_key: str | None = None,
        list_models: bool = True,
    ) -> None:
        self.model = model
        self.api_key = api_key
        self.list_models = list_models  # False: GET /models is refused with 403, as for a restricted key
        self.default_reply: Reply | str | Responder = DEFAULT_REPLY_TEXT if default_reply is None else default_reply
        self.requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self._faults: deque[Fault] = deque()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._stopping = asyncio.Event()
        self._new_request = asyncio.Condition()
        self._created = int(time.time())

    # --- lifecycle ---------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on `host:port` (0: any free port) and return `base_url`."""
        if self._runner is not None:
            raise RuntimeError("FakeOpenAI is already started")
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        # Fresh primitives: they bind to the event loop that first uses them, and a restart may be in another.
        self._stopping = asyncio.Event()
        self._new_request = asyncio.Condition()
        bound_host, bound_port = runner.addresses[0][:2]
        url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        self._base_url = f"http://{url_host}:{bound_port}/v1"
        return self._base_url

    async def stop(self) -> None:
        """Stop listening; responses still in progress (hangs, slow streams) are cut off."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping.set()
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """`http://HOST:PORT/v1`, to pass as `AsyncOpenAI(base_url=...)`."""
        if self._base_url is None:
            raise RuntimeError("FakeOpenAI is not started")
        return self._base_url

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1].split("/", 1)[0])

    # --- scripting ---------------------------------------------------------------------------------------

    def script(self, *replies: Reply | str) -> None:
        """Queue replies, consumed one per chat-completions request, in order."""
        self._script.extend(Reply(r) if isinstance(r, str) else r for r in replies)

    def fail_next(self, fault: Fault, count: int = 1) -> None:
        """Make the next `count` chat-completions requests fail with `fault` (before any scripted reply)."""
        self._faults.extend([fault] * count)

    @property
    def pending_replies(self) -> int:
        """Scripted replies not consumed yet."""
        return len(self._script)

    @property
    def pending_faults(self) -> int:
        return len(self._faults)

    def reset(self) -> None:
        """Forget scripted replies, queued faults and recorded requests (the default reply is kept)."""
        self._script.clear()
        self._faults.clear()
        self.requests.clear()

    # --- recording ---------------------------------------------------------------------------------------

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The recorded chat-completions requests, in order of arrival."""
        return [r for r in self.requests if r.path == CHAT_COMPLETIONS_PATH]

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent chat-completions request; AssertionError if there was none."""
        chat = self.chat_requests
        if not chat:
            raise AssertionError("FakeOpenAI has received no chat-completions request")
        return chat[-1]

    async def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:  # noqa: ASYNC109
        """Wait until at least `n` chat-completions requests were received; return them all.

        Raises TimeoutError after `timeout` seconds.
        """
        try:
            async with asyncio.timeout(timeout), self._new_request:
                await self._new_request.wait_for(lambda: len(self.chat_requests) >= n)
        except TimeoutError:
            raise TimeoutError(
                f"FakeOpenAI received {len(self.chat_requests)} chat-completions request(s) "
                f"in {timeout} s, expected {n}"
            ) from None
        return self.chat_requests

    # --- HTTP --------------------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body: Any = None
        if raw:
            with contextlib.suppress(ValueError):
                body = json.loads(raw)
        record = RecordedRequest(
            index=len(self.requests),
            method=request.method,
            path=request.path,
            headers=CIMultiDictProxy(CIMultiDict(request.headers)),
            body=body,
            raw_body=raw,
            received_at=time.monotonic(),
        )
        self.requests.append(record)
        async with self._new_request:
            self._new_request.notify_all()
        try:
            if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
                return self._error(
                    record, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
                )
            if request.path == CHAT_COMPLETIONS_PATH:
                if request.method != "POST":
                    return self._error(record, 405, "Method not allowed.", "invalid_request_error")
                return await self._chat_completions(request, record)
            if request.path in ("/v1/models", f"/v1/models/{self.model}") and request.method == "GET":
                if not self.list_models:
                    return self._error(
                        record, 403, "You have insufficient permissions for this operation.", "invalid_request_error"
                    )
                return self._models(record)
            return self._error(record, 404, f"Unknown path {request.method} {request.path}.", "invalid_request_error")
        finally:
            record.finished_at = time.monotonic()

    def _model_json(self) -> dict[str, Any]:
        return {"id": self.model, "object": "model", "created": self._created, "owned_by": "culturebot-fake"}

    def _models(self, record: RecordedRequest) -> web.Response:
        record.status = 200
        if record.path == "/v1/models":
            return web.json_response({"object": "list", "data": [self._model_json()]})
        return web.json_response(self._model_json())

    @staticmethod
    def _error(
        record: RecordedRequest,
        status: int,
        message: str,
        type_: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        record.status = status
        record.first_chunk_at = time.monotonic()
        body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
        return web.json_response(body, status=status, headers=headers)

    async def _next_reply(self, body: dict[str, Any]) -> tuple[Reply, Fault | None]:
        if self._faults:
            fault = self._faults.popleft()
            return (self._script[0] if self._script else await self._default(body)), fault
        reply = self._script.popleft() if self._script else await self._default(body)
        return reply, reply.fault

    async def _default(self, body: dict[str, Any]) -> Reply:
        default = self.default_reply
        result: Any = default(body) if callable(default) else default
        if inspect.isawaitable(result):
            result = await result
        return Reply(result) if isinstance(result, str) else result

    async def _chat_completions(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        body = record.body
        if not isinstance(body, dict):
            return self._error(record, 400, "The request body is not a JSON object.", "invalid_request_error")
        if not isinstance(body.get("messages"), list):
            return self._error(record, 400, "'messages' is a required property.", "invalid_request_error")
        try:
            reply, fault = await self._next_reply(body)
        except Exception as exc:
            # A broken test responder: say so in the client's error and in the log, rather than a bare 500.
            _log.exception("FakeOpenAI: the default_reply responder raised")
            record.extra["responder_error"] = exc
            return self._error(record, 500, f"FakeOpenAI responder raised {exc!r}", "server_error")
        record.reply, record.fault = reply, fault

        if isinstance(fault, RateLimited):
            return self._error(
                record,
                429,
                fault.message,
                "requests",
                "rate_limit_exceeded",
                headers={
                    "retry-after": f"{fault.retry_after:g}",
                    "retry-after-ms": str(round(fault.retry_after * 1000)),
                },
            )
        if isinstance(fault, ServerError):
            return self._error(record, fault.status, fault.message, "server_error", fault.code)
        try:
            if isinstance(fault, Hang):
                await self._sleep(fault.seconds)
            if body.get("stream") is True:
                return await self._stream(request, record, body, reply, fault)
            return await self._complete(request, record, body, reply, fault)
        except _Stopping:
            _abort(request)
            return web.Response(status=503)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but raise _Stopping as soon as the server stops."""
        if seconds <= 0:
            if self._stopping.is_set():
                raise _Stopping
            return
        if seconds <= _SHORT_SLEEP:
            # The pause between two tokens: a plain sleep, as `wait_for` costs a task and a timer each time and
            # a benchmark streams thousands of tokens a second. Stopping waits for at most this long.
            await asyncio.sleep(seconds)
            if self._stopping.is_set():
                raise _Stopping
            return
        # asyncio.timeout: Python 3.11's wait_for can swallow a cancellation that meets the wait's end.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        if self._stopping.is_set():
            raise _Stopping

    def _usage(self, body: dict[str, Any], reply: Reply) -> Usage:
        if reply.usage is not None:
            return reply.usage
        messages = body.get("messages", [])
        prompt = sum(count_tokens(message_text(m)) for m in messages if isinstance(m, dict))
        completion = count_tokens(reply.text) + count_tokens(reply.reasoning or "")
        return Usage(prompt_tokens=prompt, completion_tokens=completion)

    def _response_model(self, body: dict[str, Any]) -> str:
        model = body.get("model")
        return model if isinstance(model, str) and model else self.model

    async def _complete(
        self,
        request: web.Request,
        record: RecordedRequest,
        body: dict[str, Any],
        reply: Reply,
        fault: Fault | None,
    ) -> web.StreamResponse:
        """A non-streamed chat.completion, after the time the stream would have taken."""
        n_tokens = count_tokens(reply.reasoning or "") + count_tokens(reply.text)
        delay = reply.ttft
        if reply.tokens_per_second:
            delay += max(0, n_tokens - 1) / reply.tokens_per_second
        await self._sleep(delay)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
        if reply.reasoning is not None:
            message[reply.reasoning_field] = reply.reasoning
        payload = {
            "id": f"chatcmpl-fake-{record.index}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self._response_model(body),
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}],
            "usage": self._usage(body, reply).as_json(),
        }
        data = json.dumps(payload).encode()
        if isinstance(fault, MalformedChunk):
            data = MALFORMED_DATA
        resp = web.StreamResponse(status=200, headers=_headers(record, "application/json"))
        resp.content_length = len(data)
        record.status = 200
        try:
            await resp.prepare(request)
            record.first_chunk_at = time.monotonic()
            if isinstance(fault, CutStream):
                await resp.write(data[: len(data) // 2])
                await _flush_and_abort(request)
                return resp
            await resp.write(data)
            await resp.write_eof()
        except ConnectionError:
            pass
        return resp

    async def _stream(
        self,
        request: web.Request,
        record: RecordedRequest,
        body: dict[str, Any],
        reply: Reply,
        fault: Fault | None,
    ) -> web.StreamResponse:
        """A streamed chat.completion.chunk SSE response; headers go out at once, chunks after `ttft`."""
        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and stream_options.get("include_usage") is True
        base = {
            "id": f"chatcmpl-fake-{record.index}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self._response_model(body),
            "system_fingerprint": "fp_fake",
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            event: dict[str, Any] = {
                **base,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if include_usage:
                event["usage"] = None
            return b"data: " + json.dumps(event).encode() + b"\n\n"

        # A content chunk is the same JSON around each piece: encoded once, so that a benchmark streaming
        # thousands of tokens a second spends its time on the bot, not on building these.
        before, after = chunk({"content": _PLACEHOLDER}).split(json.dumps(_PLACEHOLDER).encode())

        def content_chunk(piece: str) -> bytes:
            return before + json.dumps(piece).encode() + after

        resp = web.StreamResponse(status=200, headers=_headers(record, "text/event-stream"))
        record.status = 200
        try:
            await resp.prepare(request)
            if isinstance(fault, EmptyStream):
                await resp.write_eof()
                return resp
            await self._sleep(reply.ttft)
            start = time.monotonic()
            record.first_chunk_at = start
            await resp.write(chunk({"role": "assistant", "content": ""}))
            if isinstance(fault, KeepAliveOnly):
                until = time.monotonic() + fault.seconds
                while time.monotonic() < until:
                    await self._sleep(fault.every)
                    await resp.write(b": PROCESSING\n\n")
                start = time.monotonic()

            pieces: Iterable[tuple[str, str]] = [
                *(("reasoning", p) for p in split_tokens(reply.reasoning or "")),
                *(("content", p) for p in split_tokens(reply.text)),
            ]
            content_chunks = 0
            for i, (kind, piece) in enumerate(pieces):
                if reply.tokens_per_second:
                    await self._sleep(start + i / reply.tokens_per_second - time.monotonic())
                if kind == "content" and isinstance(fault, CutStream | MalformedChunk):
                    if content_chunks == fault.after_chunks:
                        if isinstance(fault, CutStream):
                            await _flush_and_abort(request)
                            return resp
                        await resp.write(b"data: " + MALFORMED_DATA + b"\n\n")
                    content_chunks += 1
                if kind == "content":
                    await resp.write(content_chunk(piece))
                else:
                    await resp.write(chunk({"content": None, reply.reasoning_field: piece}))

            if isinstance(fault, CutStream | MalformedChunk) and content_chunks <= fault.after_chunks:
                # Fewer content chunks than `after_chunks`: the fault happens after all of them.
                if isinstance(fault, CutStream):
                    await _flush_and_abort(request)
                    return resp
                await resp.write(b"data: " + MALFORMED_DATA + b"\n\n")
            if isinstance(fault, EndsQuietly):
                await resp.write_eof()
                return resp
            await resp.write(chunk({}, reply.finish_reason))
            if include_usage:
                usage_event = {**base, "choices": [], "usage": self._usage(body, reply).as_json()}
                await resp.write(b"data: " + json.dumps(usage_event).encode() + b"\n\n")
            await resp.write(b"data: [DONE]\n\n")
            if isinstance(fault, HoldsAfterDone):
                await self._sleep(fault.seconds)
            await resp.write_eof()
        except ConnectionError:
            record.client_left = True
        return resp


def _headers(record: RecordedRequest, content_type: str) -> dict[str, str]:
    headers = {"Content-Type": content_type, "x-request-id": f"req_fake_{record.index}"}
    if content_type == "text/event-stream":
        headers["Cache-Control"] = "no-cache"
    return headers


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


async def _flush_and_abort(request: web.Request) -> None:
    """Abort the connection once what was written has left the process (abort() drops buffered data)."""
    transport = request.transport
    if transport is None:
        return
    for _ in range(100):
        if transport.is_closing() or transport.get_write_buffer_size() == 0:
            break
        await asyncio.sleep(0.01)
    transport.abort()
