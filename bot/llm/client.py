"""The model client: streamed chat completions from any OpenAI-compatible endpoint.

Retries of 429, 5xx, connection errors and timeouts are the openai client's own (exponential
backoff with jitter, honouring Retry-After), bounded by CULTUREBOT_MODEL_MAX_RETRIES. They apply
until the stream starts; a stream that breaks later is not retried, because part of the answer is
already in the channel; the caller keeps that part and marks the answer incomplete.

The openai client sends the request and handles its errors and retries; the streamed chunks are read
as plain JSON (sse.py says why) with the same rules as the SDK: `[DONE]` ends the stream and a chunk
carrying `error` fails it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletionMessageParam

from bot.llm.reasoning import ReasoningFilter, Restart, expects_reasoning, hold_limit_for, join_visible
from bot.llm.sse import ServerSentEvent, SseDecoder
from bot.llm.transport import READ_CONTROL, AiohttpTransport, ReadControl

AFTER_DONE_SECONDS = 1.0  # how long the end of a response is read for after [DONE]
CHECK_TIMEOUT = 10.0  # seconds for the start-up look at the endpoint's models
# finish_reason values that say the model hit a length limit: OpenAI's 'length', Mistral's 'model_length' (the
# context was full), and 'max_tokens' from Anthropic-style gateways.
LENGTH_REASONS = frozenset({"length", "model_length", "max_tokens"})

log = logging.getLogger(__name__)


class ModelError(Exception):
    """The model could not produce (the rest of) an answer; `str()` is safe to log, not to show. `status`: the
    endpoint's HTTP status when it refused the request (after the client's retries of 429 and 5xx)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class StreamStats:
    """Filled in while a stream runs; complete once it ends (successfully or not)."""

    tokens_in: int | None = None
    tokens_out: int | None = None
    ttft_ms: int | None = None
    total_ms: int | None = None
    finish_reason: str | None = None
    done: bool = False  # the stream ended with [DONE] (the protocol's end; some servers send no finish_reason)
    tokens_estimated: bool = False  # the endpoint reported no usage; counts are estimates
    received_chars: int = 0  # text the model wrote, reasoning included (for the estimate when there is no usage)
    reasoning_cut_off: bool = False  # the stream ended inside the model's reasoning: no answer text came
    started: float = field(default_factory=time.monotonic)


class ModelClient:
    """Streams visible answer text from an OpenAI-compatible chat-completions endpoint."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout: float,
        max_retries: int,
        max_tokens: int,
        temperature: float,
    ) -> None:
        self.model = model
        # Whether answers start with reasoning whose opening tag was in the prompt (reasoning.py): known from the
        # model's name, or learnt from a stream that had a closing tag without an opening one. Streams then hold
        # their start back until the reasoning is over; others show their first text at once.
        self.expect_reasoning = expects_reasoning(model)
        self._timeout = timeout
        self._max_tokens = max_tokens
        self._temperature = temperature
        # Local servers need no key, but the client insists on one.
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout,
            max_retries=max_retries,
            # Over aiohttp (transport.py): a streamed token costs about a third of what it does through httpx2's
            # own transport, and a paced stream's connection is not read between the reader's turns.
            http_client=openai.DefaultAsyncHttpxClient(transport=AiohttpTransport()),
        )

    @property
    def max_tokens(self) -> int:
        """The most tokens an answer may have (sent as `max_tokens` with each request)."""
        return self._max_tokens

    async def endpoint_problem(self) -> str | None:
        """What is wrong with the endpoint's configuration, found by listing its models once (at start-up), or
        None when the list came, or failed for another reason (the endpoint may just not be up yet).

        Caught here, a base URL without `/v1` (a common slip with Ollama and LM Studio) or a refused API key would
        otherwise fail every question with "try again in a few minutes"."""
        client = self._client.with_options(max_retries=0, timeout=CHECK_TIMEOUT)
        try:
            listed = await client.models.list()
        except openai.AuthenticationError as error:
            return (
                f"the model endpoint {self._client.base_url} refused CULTUREBOT_MODEL_API_KEY "
                f"(HTTP {error.status_code}): check the key"
            )
        except openai.PermissionDeniedError as error:
            # A key may be allowed to chat but not to list models (OpenAI's restricted keys): not a reason to stop.
            log.warning("the model endpoint does not let this key list its models (%s); going on", error.status_code)
            return None
        except openai.NotFoundError:
            base = str(self._client.base_url).rstrip("/")
            if base.endswith("/v1"):
                return None
            try:
                await client.with_options(base_url=base + "/v1").models.list()
            except openai.OpenAIError:
                return None
            return f"the model endpoint answers at {base}/v1, not at {base}: set CULTUREBOT_MODEL_BASE_URL={base}/v1"
        except openai.OpenAIError as error:
            log.warning("could not list the models of %s (%s); going on", self._client.base_url, error)
            return None
        names = {model.id for model in listed.data}
        if names and self.model not in names:
            log.warning(
                "the model endpoint does not list CULTUREBOT_MODEL_NAME=%s (it lists %s)",
                self.model,
                ", ".join(sorted(names)[:10]),
            )
        return None

    async def close(self) -> None:
        await self._client.close()

    async def stream(
        self,
        messages: Sequence[ChatCompletionMessageParam],
        stats: StreamStats,
        *,
        pace: Callable[[], float] | None = None,
    ) -> AsyncGenerator[str, None]:
        """Yield the answer's visible text as it arrives; reasoning never comes out.

        `pace`, asked after each piece, says how many seconds the caller can wait for the next one (e.g. until
        its next edit is due): meanwhile the connection is not read, and whatever arrived comes in one piece.
        The first text always comes as soon as it arrives. Raises ModelError when the request fails after its
        retries or the stream breaks.
        """
        stats.started = time.monotonic()
        reasoning_filter = ReasoningFilter(
            expect_reasoning=self.expect_reasoning, hold_limit=hold_limit_for(self._max_tokens)
        )
        produced: list[str] = []
        try:
            # The SDK's generic `post` (its documented way to call any endpoint): the same retries, errors and
            # headers as `chat.completions.create`, without converting the whole prompt through its typed
            # parameter models first (about 1 ms a question), and the raw response to read the stream from.
            response = await self._client.post(
                "/chat/completions",
                cast_to=httpx2.Response,
                body={
                    "model": self.model,
                    "messages": list(messages),
                    "stream": True,
                    "stream_options": {"include_usage": True},
                    "max_tokens": self._max_tokens,
                    "temperature": self._temperature,
                },
                stream=True,
            )
            try:
                decoder = SseDecoder()
                done = False
                pieces = response.aiter_bytes()
                last_event = time.monotonic()
                any_event = False
                # One step per piece of the response as it arrives, with all the text it completes: a busy bot
                # that finds several tokens waiting pays for one trip through the pipeline, not one each.
                async for piece in pieces:
                    texts: list[str] = []
                    failure: Exception | None = None
                    events = 0
                    for event in decoder.feed(piece):
                        events += 1
                        done = done or event.data.startswith("[DONE]")
                        if done:
                            break
                        try:
                            text = visible_text(event, stats, reasoning_filter)
                        except (ModelError, ValueError) as error:
                            failure = error  # raised once the text before it is out
                            break
                        if text:
                            texts.append(text)
                    if texts:
                        if stats.ttft_ms is None:
                            stats.ttft_ms = _elapsed_ms(stats.started)
                        text = texts[0] if len(texts) == 1 else join_visible(texts)
                        if isinstance(text, Restart):
                            produced.clear()  # what came before was reasoning
                            self.expect_reasoning = True  # and later streams hold it back (reasoning.py)
                        produced.append(text)
                        yield text
                    if failure is not None:
                        raise failure
                    if done:
                        break
                    now = time.monotonic()
                    if events:
                        last_event = now
                        any_event = True
                    elif now - last_event > self._timeout:
                        # Keep-alive comments (": PROCESSING") reset the connection's read timeout, not this one:
                        # a model stuck behind them would hold the member's answer open for ever.
                        raise ModelError(f"model endpoint sent no data for {self._timeout:g} s, only keep-alives")
                    # Once the model has finished only the end of the response is left: read it now.
                    wait = pace() if pace is not None and texts and stats.finish_reason is None else 0.0
                    if wait > 0:
                        await _unread_for(response, wait)
                if done:
                    await _read_rest(pieces, AFTER_DONE_SECONDS)
            finally:
                await response.aclose()
            if not any_event and not done:
                # llama.cpp's server, given a prompt longer than its context, answers 200 with an empty body.
                stats.tokens_in = stats.tokens_out = 0  # nothing says the model read or wrote anything
                raise ModelError("the model endpoint sent an empty response (is the prompt longer than its context?)")
            stats.done = done
            rest = reasoning_filter.flush(cut_off=stats.finish_reason in LENGTH_REASONS)
            stats.reasoning_cut_off = reasoning_filter.dropped_unfinished and not any(produced)
            if rest:
                if stats.ttft_ms is None:  # all of it was held back as possible reasoning: it shows only now
                    stats.ttft_ms = _elapsed_ms(stats.started)
                produced.append(rest)
                yield rest
            if reasoning_filter.unopened_close:
                self.expect_reasoning = True  # (if not already, this stream's reasoning showed until its tag came)
            elif self.expect_reasoning and stats.finish_reason == "stop" and not expects_reasoning(self.model):
                # Learnt, but a whole answer came without a closing tag of its own: what taught it was a stray tag.
                self.expect_reasoning = False
        except openai.APIStatusError as error:
            raise ModelError(
                f"model endpoint answered HTTP {error.status_code}: {error.message}", status=error.status_code
            ) from error
        except openai.APITimeoutError as error:
            raise ModelError("model endpoint timed out") from error
        except openai.APIConnectionError as error:
            raise ModelError(f"model endpoint unreachable or stream broken: {error}") from error
        except httpx2.HTTPError as error:
            raise ModelError(f"model stream broken: {error!r}") from error
        except (openai.OpenAIError, ValueError) as error:
            raise ModelError(f"model stream unreadable: {error!r}") from error
        finally:
            stats.total_ms = _elapsed_ms(stats.started)
            if stats.tokens_out is None:
                # Some servers (llama.cpp's among them) send no usage; keep an honest estimate instead.
                stats.tokens_estimated = True
                stats.tokens_in = estimate_tokens(" ".join(str(m.get("content", "")) for m in messages))
                # From everything the model wrote: reasoning (in its field or in tags) costs tokens too.
                stats.tokens_out = max(estimate_tokens("".join(produced)), round(stats.received_chars / 4))


async def _read_rest(pieces: AsyncIterator[bytes], seconds: float) -> None:
    """Read what follows [DONE], for `seconds` at most: a response read to its end keeps its connection for the
    next question, but a server that keeps the response open after [DONE] is not waited for (the answer is
    complete; closing the response then closes the connection)."""
    with contextlib.suppress(TimeoutError, httpx2.HTTPError, openai.OpenAIError):
        async with asyncio.timeout(seconds):  # no yield in here: the timeout stays in this generator's step
            async for _ in pieces:
                pass


async def _unread_for(response: httpx2.Response, seconds: float) -> None:
    """Leave the connection unread for `seconds` (the kernel holds what arrives), then read on."""
    control = response.extensions.get(READ_CONTROL)
    if isinstance(control, ReadControl):
        control.pause()
    try:
        await asyncio.sleep(seconds)
    finally:
        if isinstance(control, ReadControl):
            control.resume()


def visible_text(event: ServerSentEvent, stats: StreamStats, reasoning_filter: ReasoningFilter) -> str:
    """The answer text one event carries (notes usage in `stats`); only `content` counts, never reasoning.

    Raises ModelError for an error the endpoint sent in the stream, ValueError for a chunk that is not JSON.
    """
    content = content_only(event.data) if event.event is None else None
    if content is None:
        choice = read_chunk(event.data, event.event, stats)
        if choice is None:
            return ""
        # `reasoning_content` and similar fields are left out; inline <think> blocks are filtered out.
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return ""
        content = delta.get("content")
        for field_name in REASONING_FIELDS:
            reasoning = delta.get(field_name)
            if isinstance(reasoning, str) and reasoning:
                stats.received_chars += len(reasoning)
                reasoning_filter.reasoning_apart()
    if not isinstance(content, str) or not content:
        return ""
    stats.received_chars += len(content)
    return reasoning_filter.feed(content)


# Where servers with a reasoning parser put the model's reasoning: DeepSeek's API and vLLM (`reasoning_content`),
# OpenRouter and Ollama's OpenAI endpoint (`reasoning`).
REASONING_FIELDS = ("reasoning_content", "reasoning")


# Most chunks of a stream carry one piece of content and nothing else that matters, e.g.
# {"id":"…","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"usage":null}.
# These patterns only look for text with unescaped quotes around it, which cannot occur inside a JSON string:
# whatever the model writes in its content cannot make them match.
_CONTENT_DELTA = re.compile(r'"delta":\s*\{\s*"content":\s*"((?:[^"\\]|\\.)*)"\s*\}')
_FINISH_NULL = re.compile(r'"finish_reason":\s*null')
_USAGE_NULL = re.compile(r'"usage":\s*null')
# The same three in the compact form nearly every server writes, looked for as plain text first (several times
# cheaper than the patterns, which remain for spaced-out JSON).
_COMPACT_DELTA = '"delta":{"content":"'
_COMPACT_FINISH_NULL = '"finish_reason":null'
_COMPACT_USAGE_NULL = '"usage":null'


def content_only(data: str) -> str | None:
    """The content of a chunk that carries nothing else to note (no finish, usage or error; one choice).

    None when the chunk is anything else: it is then read whole (`read_chunk`). For the common chunk this is
    several times cheaper than parsing the JSON, and it builds no dicts (a busy bot reads thousands a second).
    """
    if '"error"' in data or data.count('"delta"') != 1 or data.count('"finish_reason"') != 1:
        return None
    if _COMPACT_FINISH_NULL not in data and not _FINISH_NULL.search(data):
        return None
    if '"usage"' in data and _COMPACT_USAGE_NULL not in data and not _USAGE_NULL.search(data):
        return None
    start = data.find(_COMPACT_DELTA)
    if start >= 0:
        start += len(_COMPACT_DELTA)
        end = data.find('"', start)
        # With no backslash before it, the first quote is the string's end; the delta must close right after.
        if end >= 0 and data.startswith("}", end + 1) and "\\" not in data[start:end]:
            return data[start:end]
    found = _CONTENT_DELTA.search(data)
    if found is None:
        return None
    content = found.group(1)
    return json.loads(f'"{content}"') if "\\" in content else content


def read_chunk(data: str, event: str | None, stats: StreamStats) -> dict[str, Any] | None:
    """Note a chunk's usage and finish reason in `stats`; its first choice, if it has one.

    Raises ModelError for an error the endpoint sent in the stream, ValueError for a chunk that is not JSON.
    """
    chunk = json.loads(data)
    if not isinstance(chunk, dict):
        raise ValueError(f"a stream chunk is not a JSON object: {data[:100]!r}")
    error = chunk.get("error")
    if error or event == "error":
        message = error.get("message") if isinstance(error, dict) else error
        raise ModelError(f"model endpoint sent an error in the stream: {message or data[:200]}")
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        stats.tokens_in = usage.get("prompt_tokens", stats.tokens_in)
        stats.tokens_out = usage.get("completion_tokens", stats.tokens_out)
    choices = chunk.get("choices")
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        return None
    choice: dict[str, Any] = choices[0]
    if choice.get("finish_reason") is not None:
        stats.finish_reason = choice["finish_reason"]
    return choice


def estimate_tokens(text: str) -> int:
    """About four characters a token for English-like text; used only when the endpoint reports no usage."""
    return max(1, round(len(text) / 4)) if text else 0


def _elapsed_ms(start: float) -> int:
    return round((time.monotonic() - start) * 1000)
