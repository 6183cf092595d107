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
import difflib
import json
import logging
import re
import time
import urllib.parse
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
# Statuses of a refused question that no retry or other question gets past: the settings need changing.
SETUP_STATUSES = frozenset({401, 403, 404})
MODELS_SHOWN = 10  # names of served models in the start-up refusal

log = logging.getLogger(__name__)


class ModelError(Exception):
    """The model could not produce (the rest of) an answer; `str()` is safe to log, not to show. `status`: the
    endpoint's HTTP status when it refused the request (after the client's retries of 429 and 5xx); `refusal`: what
    the refusal means, where it can be told (`refusal_kind`)."""

    def __init__(self, message: str, *, status: int | None = None, refusal: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.refusal = refusal


QUOTA = "quota"  # the provider account is out of credits or quota: every question fails until the operator acts
FILTERED = "filtered"  # the provider's moderation refused this question (OpenRouter answers it with 403)
_QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "insufficient_credits"})


def refusal_kind(error: openai.APIStatusError) -> str | None:
    """QUOTA, FILTERED or None, from the status, the error code and words in the message (providers differ). A 429
    naming a quota in its words only is not QUOTA: Azure's and Gemini's passing rate limits do."""
    message = error.message.lower()
    if error.status_code == 402 or error.code in _QUOTA_CODES:
        return QUOTA
    if error.status_code == 403 and any(word in message for word in ("moderation", "flagged", "content filter")):
        return FILTERED
    return None


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
        self._setup_failures_logged: set[tuple[int, str]] = set()
        self._has_key = bool(api_key)
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
        None when nothing shows it is wrong (the endpoint may just not be up yet: that is only logged).

        Caught here, a base URL without `/v1` (a common slip with Ollama and LM Studio), a refused API key or a
        model name the endpoint does not serve would otherwise fail every question. The rule for the name: the
        start stops only when the endpoint lists models, CULTUREBOT_MODEL_NAME is not among them (`NAME:latest`,
        as Ollama lists its models, counts as NAME), and one request for a single token with that name is refused
        as an unknown model (404, or 400/422 naming it). Lists are not always complete (OpenRouter's variants such
        as `:nitro`, aliases, llama.cpp's server answering any name with its one model): a name the endpoint
        answers anyway only gets a warning, and so does an endpoint that lists nothing. An error the client raises
        that is none of its own (the URL, not the endpoint, is then usually what is wrong) stops the start too."""
        base = shown_url(self._client.base_url)
        log.info(
            "model endpoint %s, model %s, %s", base, self.model, "with an API key" if self._has_key else "no API key"
        )
        try:
            return await self._check_endpoint(base)
        except Exception as error:  # e.g. the ValueError of a host name aiohttp cannot encode, such as a..b
            log.debug("the start-up check of the model endpoint failed", exc_info=True)
            what = " ".join(f"{type(error).__name__}: {error}".split())
            return (
                f"the model endpoint {base} could not be checked ({what}): check CULTUREBOT_MODEL_BASE_URL "
                "(CULTUREBOT_LOG_LEVEL=DEBUG logs the traceback)"
            )

    async def _check_endpoint(self, base: str) -> str | None:
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
            return await self._no_model_list(client)
        except openai.OpenAIError as error:
            log.warning("could not list the models of %s (%s); going on", base, error)
            return None
        data = getattr(listed, "data", None)
        names = [name for model in data or () if isinstance(name := getattr(model, "id", None), str)]
        if not names:
            log.warning(
                "the model endpoint %s lists no models, so CULTUREBOT_MODEL_NAME=%s cannot be checked (a local "
                "server with no model loaded or pulled lists none); going on",
                base,
                self.model,
            )
            return None
        if serves(names, self.model):
            return None
        refusal = await self._refusal_of_name(client)
        if isinstance(refusal, openai.APIStatusError):
            served = served_list(names, self.model)
            if names_model(refusal, self.model):
                return (
                    f"CULTUREBOT_MODEL_NAME={self.model} is not served by {base}; it serves: {served}. "
                    "Set CULTUREBOT_MODEL_NAME to one of them."
                )
            return (  # a 404 that does not say why: the name, or a chat endpoint elsewhere than the model list
                f"the model endpoint {base} answered HTTP 404 to a request for CULTUREBOT_MODEL_NAME={self.model} "
                f"({refusal.message}); it serves: {served}. Set CULTUREBOT_MODEL_NAME to one of them, or check "
                "CULTUREBOT_MODEL_BASE_URL."
            )
        if refusal is None:
            log.warning(
                "the model endpoint %s does not list CULTUREBOT_MODEL_NAME=%s but answered a request for it (it lists "
                "%s): it routes names it does not list; check that the model answering is the one meant (a llama.cpp "
                "server answers any name with the model it has loaded)",
                base,
                self.model,
                served_list(names, self.model),
            )
        else:
            log.warning(
                "the model endpoint %s does not list CULTUREBOT_MODEL_NAME=%s (it lists %s), and a request for it "
                "failed (%s): if every question fails, set CULTUREBOT_MODEL_NAME to one of those; going on",
                base,
                self.model,
                served_list(names, self.model),
                refusal,
            )
        return None

    async def _refusal_of_name(self, client: openai.AsyncOpenAI) -> Exception | None:
        """Ask the endpoint for one token from the configured model: None when it answered, the status error when
        it refused the name as an unknown model, any other failure as it came."""
        try:
            response = await client.post(
                "/chat/completions",
                cast_to=httpx2.Response,
                body={
                    "model": self.model,
                    "messages": [{"role": "user", "content": "Say OK."}],
                    "max_tokens": 1,
                    "stream": False,
                },
                stream=True,  # the answer is not needed: the response is closed unread
            )
        except openai.APIStatusError as error:
            if error.status_code == 404 or (error.status_code in (400, 422) and names_model(error, self.model)):
                return error
            return ModelError(f"HTTP {error.status_code}: {error.message}", status=error.status_code)
        except (openai.OpenAIError, httpx2.HTTPError) as error:
            return error
        await response.aclose()
        return None

    async def _no_model_list(self, client: openai.AsyncOpenAI) -> str | None:
        """The endpoint answered 404 to GET /models: a base URL without `/v1` stops the start; otherwise the likely
        fix is logged (the endpoint may only not list models, as some proxies)."""
        base = str(self._client.base_url).rstrip("/")
        tried = [f"{shown_url(base)}/models"]
        if not base.endswith("/v1"):
            if await _lists_models(client, base + "/v1"):
                return (
                    f"the model endpoint answers at {shown_url(base)}/v1, not at {shown_url(base)}: "
                    f"set CULTUREBOT_MODEL_BASE_URL={shown_url(base)}/v1"
                )
            tried.append(f"{shown_url(base)}/v1/models")
        # A path one step off, e.g. http://localhost:11434/api (Ollama's own API) for http://localhost:11434/v1.
        parent = base.rsplit("/", 1)[0] + "/v1" if httpx2.URL(base).path.strip("/") else None
        if parent is not None and parent not in (base, base + "/v1") and await _lists_models(client, parent):
            log.warning(
                "the model endpoint lists no models at %s (HTTP 404) but does at %s/models: questions will likely "
                "fail with HTTP 404 until CULTUREBOT_MODEL_BASE_URL=%s; going on",
                " or ".join(tried),
                shown_url(parent),
                shown_url(parent),
            )
            return None
        log.warning(
            "the model endpoint lists no models at %s (HTTP 404), so CULTUREBOT_MODEL_NAME=%s cannot be checked; "
            "going on. If questions fail with HTTP 404, CULTUREBOT_MODEL_BASE_URL is wrong: it is the address before "
            "/chat/completions, usually ending in /v1 (Ollama: http://localhost:11434/v1, LM Studio: "
            "http://localhost:1234/v1)",
            " or ".join(tried),
            self.model,
        )
        return None

    def _log_setup_failure(self, error: openai.APIStatusError) -> None:
        """Log at ERROR, once per distinct refusal, a refusal that fails every question until the operator changes
        a setting (each failed question is also logged as a warning where it is answered)."""
        key = (error.status_code, error.message[:300])
        if key in self._setup_failures_logged:
            return
        if len(self._setup_failures_logged) < 100:
            self._setup_failures_logged.add(key)
        served = shown_url(self._client.base_url)
        fixes = {
            401: "check CULTUREBOT_MODEL_API_KEY",
            403: (
                f"check that CULTUREBOT_MODEL_API_KEY may use CULTUREBOT_MODEL_NAME={self.model} (a provider's "
                "content filter refuses single questions with 403 too)"
            ),
            404: (
                f"set CULTUREBOT_MODEL_NAME to a model {served} serves (it is {self.model}), "
                "or check CULTUREBOT_MODEL_BASE_URL"
            ),
        }
        fix = (
            "top up the model provider account's credits or raise its quota (every question fails until then)"
            if refusal_kind(error) == QUOTA
            else fixes[error.status_code]
        )
        log.error(
            "the model endpoint refused a question with HTTP %d (%s); if it refuses every question, %s (logged once "
            "per problem; each failed question is logged as a warning)",
            error.status_code,
            error.message,
            fix,
        )

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
            refusal = refusal_kind(error)
            if (error.status_code in SETUP_STATUSES and refusal != FILTERED) or refusal == QUOTA:
                self._log_setup_failure(error)
            raise ModelError(
                f"model endpoint answered HTTP {error.status_code}: {error.message}",
                status=error.status_code,
                refusal=refusal,
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


def serves(names: Sequence[str], model: str) -> bool:
    """Whether a model list names `model`: as listed, as Ollama lists a name given without a tag (`NAME:latest`),
    or as Google's OpenAI-compatible API lists its models (`models/NAME`)."""
    return not {model, f"{model}:latest", f"models/{model}"}.isdisjoint(names)


def served_list(names: Sequence[str], model: str) -> str:
    """The served models to name to an operator: the ones closest to `model` first, at most MODELS_SHOWN."""
    unique = sorted(set(names))
    close = difflib.get_close_matches(model, unique, n=MODELS_SHOWN, cutoff=0.5)
    shown = (close + [name for name in unique if name not in close])[:MODELS_SHOWN]
    if len(unique) <= MODELS_SHOWN:
        return ", ".join(shown)
    return f"{', '.join(shown)} ({MODELS_SHOWN} of {len(unique)}, the closest to it first)"


def names_model(error: openai.APIStatusError, model: str) -> bool:
    """Whether an error response names `model` (a 400 "not a valid model ID", not one about another parameter)."""
    return model in error.message or (isinstance(error.body, str) and model in error.body)


def shown_url(url: object) -> str:
    """A URL as logged and shown: without credentials in it (`user:password@`), a query or a trailing slash."""
    parsed = urllib.parse.urlsplit(str(url))
    host = parsed.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parsed.scheme, host, parsed.path, "", "")).rstrip("/")


async def _lists_models(client: openai.AsyncOpenAI, base_url: str) -> bool:
    try:
        await client.with_options(base_url=base_url).models.list()
    except openai.OpenAIError:
        return False
    return True


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
