"""Value types of the fake model server: scripted replies, faults and recorded requests."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDictProxy

__all__ = [
    "CHAT_COMPLETIONS_PATH",
    "CutStream",
    "EndsQuietly",
    "Fault",
    "Hang",
    "MalformedChunk",
    "RateLimited",
    "RecordedRequest",
    "Reply",
    "Responder",
    "ServerError",
    "Usage",
    "count_tokens",
    "split_tokens",
]

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"

# A "token" is a run of whitespace followed by a word, or trailing whitespace on its own, so that
# joining the pieces gives back the text exactly ("This is." -> ["This", " is."]).
_TOKEN_RE = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Split `text` into token-ish pieces whose concatenation is exactly `text`."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    """The number of token-ish pieces in `text` (the fake's stand-in for a tokenizer)."""
    return len(split_tokens(text))


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts reported to the client; `total_tokens` is always the sum of the other two."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_json(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


# --- Faults ---------------------------------------------------------------------------------------------
#
# What the real `openai.AsyncOpenAI` client (openai 3.54, httpx2 transport, `max_retries=0`) raises for
# each fault is checked by tests/sandbox/test_fake_openai.py; it is noted on each class.


@dataclass(frozen=True, slots=True)
class RateLimited:
    """HTTP 429 with `retry-after` / `retry-after-ms` headers and an OpenAI-style JSON error body.

    Client side: `openai.RateLimitError` (status_code 429) from `create(...)`, streamed or not.  With
    retries enabled the client waits `retry_after` seconds (it honours values up to 120 s) before retrying.
    """

    retry_after: float = 1.0
    message: str = "Rate limit reached for requests. Please try again later."


@dataclass(frozen=True, slots=True)
class ServerError:
    """An HTTP 5xx (or any other error status) with an OpenAI-style JSON error body.

    Client side, for 500: `openai.InternalServerError` from `create(...)`; for other statuses the
    matching `openai.APIStatusError` subclass (e.g. 503 -> `InternalServerError`, 400 -> `BadRequestError`).
    """

    status: int = 500
    message: str = "The server had an error while processing your request. Sorry about that!"
    code: str | None = None  # the body's error code, e.g. "insufficient_quota"


@dataclass(frozen=True, slots=True)
class Hang:
    """Accept the request, then send nothing at all (not even headers) for `seconds`.

    If the client is still connected afterwards, the reply is served normally; a client whose timeout is
    shorter sees `openai.APITimeoutError` from `create(...)`.  Stopping the server ends hangs early.
    """

    seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class CutStream:
    """Send `after_chunks` content chunks, then abort the TCP connection (no final chunk, no `[DONE]`).

    Streamed client side: `create(...)` succeeds, the first `after_chunks` content deltas arrive, then
    iteration raises `openai.APIConnectionError` (cause: `httpx2.RemoteProtocolError`, incomplete chunked
    read).  Not streamed: half of the JSON body is sent and the connection aborted; `create(...)` raises
    `openai.APIConnectionError`.
    """

    after_chunks: int = 1


@dataclass(frozen=True, slots=True)
class MalformedChunk:
    """Send `after_chunks` content chunks, then the event `data: {not json`, then finish the stream normally.

    Streamed client side: `create(...)` succeeds, the first `after_chunks` content deltas arrive, then
    iteration raises `json.JSONDecodeError` (a `ValueError`, NOT an `openai.OpenAIError`).  Not streamed:
    the body is `{not json` with a JSON content type and `create(...)` raises `json.JSONDecodeError` too.
    """

    after_chunks: int = 1


@dataclass(frozen=True, slots=True)
class EndsQuietly:
    """Send every content chunk, then end the response cleanly with no final chunk (no `finish_reason`) and no
    `[DONE]`, as a proxy or server that stops early may. Streamed client side: iteration just ends; nothing
    says whether the answer was complete."""


@dataclass(frozen=True, slots=True)
class KeepAliveOnly:
    """Send the first chunk, then only SSE comments (`: PROCESSING`, as OpenRouter sends while its upstream
    model works) every `every` seconds for `seconds`, then the reply as usual. Each comment resets a client's
    read timeout; only the events' absence says the model is stuck."""

    seconds: float = 30.0
    every: float = 0.2


@dataclass(frozen=True, slots=True)
class HoldsAfterDone:
    """Send the whole reply and `[DONE]`, then keep the response open for `seconds` before ending it."""

    seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class EmptyStream:
    """Answer 200 with the event-stream headers and no event at all, as llama.cpp's server does for a prompt
    longer than its context."""


Fault = (
    RateLimited
    | ServerError
    | Hang
    | CutStream
    | MalformedChunk
    | EndsQuietly
    | KeepAliveOnly
    | HoldsAfterDone
    | EmptyStream
)


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer of the fake model.

    `reasoning` is streamed as `delta.reasoning_content` chunks before the content (as DeepSeek, vLLM and
    llama.cpp do) and returned as `message.reasoning_content` when not streamed.  `ttft` is the delay in
    seconds before the first chunk; `tokens_per_second` paces the chunks, one token-ish piece each (None:
    as fast as possible).  `usage` overrides the computed token counts.  `reasoning_field` names the field
    the reasoning travels in: `reasoning_content` (DeepSeek, llama.cpp, older vLLM) or `reasoning` (newer
    vLLM, OpenRouter).
    """

    text: str
    reasoning: str | None = None
    ttft: float = 0.0
    tokens_per_second: float | None = None
    fault: Fault | None = None
    usage: Usage | None = None
    finish_reason: str = "stop"
    reasoning_field: str = "reasoning_content"


Responder = Callable[[dict[str, Any]], "Reply | str | Awaitable[Reply | str]"]
"""A dynamic default reply: called with the parsed JSON request body, returns (or awaits to) a reply."""


@dataclass(slots=True)
class RecordedRequest:
    """One HTTP request the fake received, with its timing.

    Times come from `time.monotonic()` (the clock of asyncio's default event loop, `loop.time()`), so they
    can be compared with times taken by the client in the same process.
    """

    index: int
    method: str
    path: str
    headers: CIMultiDictProxy[str]
    body: Any
    """The parsed JSON body, or None if there was no body or it was not valid JSON."""
    raw_body: bytes
    received_at: float
    first_chunk_at: float | None = None
    """When the first data was written: the first SSE event when streamed, else the whole body."""
    finished_at: float | None = None
    reply: Reply | None = None
    fault: Fault | None = None
    status: int | None = None
    client_left: bool = False
    """The client closed the connection before the streamed response was complete."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def api_key(self) -> str | None:
        """The bearer token of the `Authorization` header."""
        auth = self.headers.get("Authorization")
        if auth is None:
            return None
        scheme, _, token = auth.partition(" ")
        return token if scheme.lower() == "bearer" else auth

    @property
    def json(self) -> dict[str, Any]:
        """The body as a JSON object (empty if it was not one)."""
        return self.body if isinstance(self.body, dict) else {}

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.json.get("messages")
        return messages if isinstance(messages, list) else []

    @property
    def system_prompt(self) -> str | None:
        """The text of all system (or developer) messages, joined by blank lines; None if there are none."""
        parts = [
            message_text(m) for m in self.messages if isinstance(m, dict) and m.get("role") in ("system", "developer")
        ]
        return "\n\n".join(parts) if parts else None

    @property
    def model(self) -> str | None:
        model = self.json.get("model")
        return model if isinstance(model, str) else None

    @property
    def stream(self) -> bool:
        return self.json.get("stream") is True

    @property
    def ttft(self) -> float | None:
        """Server-side time to first chunk in seconds."""
        return None if self.first_chunk_at is None else self.first_chunk_at - self.received_at


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str))
    return ""
