"""The model client: streamed chat completions from any OpenAI-compatible endpoint.

Retries of 429, 5xx, connection errors and timeouts are the openai client's own (exponential
backoff with jitter, honouring Retry-After), bounded by CULTUREBOT_MODEL_MAX_RETRIES. They apply
until the stream starts; a stream that breaks later is not retried, because part of the answer is
already in the channel; the caller keeps that part and marks the answer incomplete.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import openai
from openai.types.chat import ChatCompletionMessageParam

from bot.llm.reasoning import ReasoningFilter


class ModelError(Exception):
    """The model could not produce (the rest of) an answer; `str()` is safe to log, not to show."""


@dataclass(slots=True)
class StreamStats:
    """Filled in while a stream runs; complete once it ends (successfully or not)."""

    tokens_in: int | None = None
    tokens_out: int | None = None
    ttft_ms: int | None = None
    total_ms: int | None = None
    finish_reason: str | None = None
    tokens_estimated: bool = False  # the endpoint reported no usage; counts are estimates
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
        self._max_tokens = max_tokens
        self._temperature = temperature
        # Local servers need no key, but the client insists on one.
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout,
            max_retries=max_retries,
        )

    async def close(self) -> None:
        await self._client.close()

    async def stream(self, messages: Sequence[ChatCompletionMessageParam], stats: StreamStats) -> AsyncIterator[str]:
        """Yield the answer's visible text as it arrives; reasoning never comes out.

        Raises ModelError when the request fails after its retries or the stream breaks.
        """
        stats.started = time.monotonic()
        reasoning_filter = ReasoningFilter()
        produced: list[str] = []
        try:
            stream = await self._client.chat.completions.create(
                model=self.model,
                messages=list(messages),
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=self._max_tokens,
                temperature=self._temperature,
            )
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        stats.tokens_in = chunk.usage.prompt_tokens
                        stats.tokens_out = chunk.usage.completion_tokens
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    if choice.finish_reason is not None:
                        stats.finish_reason = choice.finish_reason
                    # Only `content` is the answer; `reasoning_content` and similar fields are ignored.
                    text = reasoning_filter.feed(choice.delta.content or "")
                    if text:
                        if stats.ttft_ms is None:
                            stats.ttft_ms = _elapsed_ms(stats.started)
                        produced.append(text)
                        yield text
            rest = reasoning_filter.flush()
            if rest:
                yield rest
        except openai.APIStatusError as error:
            raise ModelError(f"model endpoint answered HTTP {error.status_code}: {error.message}") from error
        except openai.APITimeoutError as error:
            raise ModelError("model endpoint timed out") from error
        except openai.APIConnectionError as error:
            raise ModelError(f"model endpoint unreachable or stream broken: {error}") from error
        except (openai.OpenAIError, ValueError) as error:
            # Malformed chunks surface as decoding errors from the SSE parser.
            raise ModelError(f"model stream unreadable: {error!r}") from error
        finally:
            stats.total_ms = _elapsed_ms(stats.started)
            if stats.tokens_out is None:
                # Some servers (llama.cpp's among them) send no usage; keep an honest estimate instead.
                stats.tokens_estimated = True
                stats.tokens_in = estimate_tokens(" ".join(str(m.get("content", "")) for m in messages))
                stats.tokens_out = estimate_tokens("".join(produced))


def estimate_tokens(text: str) -> int:
    """About four characters a token for English-like text; used only when the endpoint reports no usage."""
    return max(1, round(len(text) / 4)) if text else 0


def _elapsed_ms(start: float) -> int:
    return round((time.monotonic() - start) * 1000)
