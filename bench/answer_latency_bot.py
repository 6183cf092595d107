"""The bot in a process of its own for `bench.answer_latency`, built as `culturebot run` builds it, plus probes.

In production Discord and the model endpoint are other machines; here the stand-in and the fake model run in
the benchmark's process, and the bot runs in this one, so the bot's figures are its own and not the harness's.
Configuration comes from the environment (`CULTUREBOT_*`, as for `culturebot run`) and:

- BENCH_PROBES_OUT: where to write, at exit, the probe times, the event loop's lag (bench.common.LoopLag), its
  garbage collections (bench.common.GcPauses) and this process's CPU time and peak RSS (JSON);
- BENCH_PROFILE (optional, "cprofile"): profile from ready to exit, printed to stderr (BENCH_PROFILE_OUT keeps it);
- BENCH_GC_THRESHOLD (optional, e.g. "10000,10,10"): other garbage collector thresholds, set once ready, to try.

The probes only observe: an extra `on_message` listener (when discord.py handed the message to listeners), a
wrapper noting when the pipeline asks the model client for a stream, and one noting when the chat request's
bytes are written to the model's connection. Times are `time.monotonic()`, which on
Linux is one clock for every process of the machine, so the benchmark compares them with its own.

Prints `READY` on stdout once connected; SIGTERM or SIGINT shuts the bot down as `culturebot run` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import re
import resource
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.payload
import discord
from openai.types.chat import ChatCompletionMessageParam

from bench.common import GcPauses, LoopLag, profiled
from bot.app import client_for, load_pseudonymizer
from bot.config import load_settings
from bot.llm.client import ModelClient, StreamStats
from bot.runtime import CultureBot

# Every question carries a tag the fake model sees in the prompt, so requests and replies match questions.
TAG_RE = re.compile(r"\b(bq|sq|so|wu)(\d{5})\b")


def tag_of(messages: Sequence[Any]) -> str | None:
    """The question tag in the last user message of a chat-completions request."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content)
            found = TAG_RE.search(text)
            return found.group(0) if found else None
    return None


def observe_stream_calls(model: ModelClient, stream_called: dict[str, list[float]]) -> None:
    """Note when the pipeline asks the model client for a stream (by the question's tag); no other change."""
    original = model.stream

    async def stream(
        messages: Sequence[ChatCompletionMessageParam], stats: StreamStats, *, pace: Callable[[], float] | None = None
    ) -> AsyncIterator[str]:
        tag = tag_of(messages)
        if tag is not None:
            stream_called.setdefault(tag, []).append(time.monotonic())
        async for delta in original(messages, stats, pace=pace):
            yield delta

    setattr(model, "stream", stream)  # noqa: B010 (an instance attribute over the method)


def observe_request_writes(written: dict[str, list[float]]) -> None:
    """Note when this process writes each chat request to its connection (by the question's tag).

    aiohttp writes a request's headers and body in one step of a task of its own (`ClientRequest.write_bytes`),
    which on Python 3.11 starts a loop turn after the request was made: its start is when the bytes go out.
    """
    original = aiohttp.ClientRequest.write_bytes

    async def write_bytes(self: aiohttp.ClientRequest, *args: Any, **kwargs: Any) -> None:
        now = time.monotonic()
        if self.url.path.endswith("/chat/completions") and isinstance(self.body, aiohttp.payload.Payload):
            found = TAG_RE.search(self.body.decode(errors="replace"))
            if found is not None:
                written.setdefault(found.group(0), []).append(now)
        await original(self, *args, **kwargs)

    setattr(aiohttp.ClientRequest, "write_bytes", write_bytes)  # noqa: B010 (a probe over the method)


def progress(message: str) -> None:
    print(f"[answer_latency bot {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def serve() -> dict[str, Any]:
    """Run the bot until a signal; the probes and this process's use of CPU and memory."""
    settings = load_settings()
    assert settings.model_base_url is not None, "the benchmark gives the fake model's URL"
    token = settings.discord_token.get_secret_value() if settings.discord_token else ""
    model = client_for(settings, str(settings.model_base_url), None, settings.model_name)
    listener_at: dict[int, float] = {}
    stream_called: dict[str, list[float]] = {}
    observe_stream_calls(model, stream_called)
    request_written: dict[str, list[float]] = {}
    observe_request_writes(request_written)
    bot = CultureBot(settings, model=model, pseudonyms=load_pseudonymizer(settings))

    async def on_message_probe(message: discord.Message) -> None:
        listener_at.setdefault(message.id, time.monotonic())

    # Registered before the cogs load, so discord.py runs it just before the answers cog's listener.
    bot.add_listener(on_message_probe, "on_message")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = asyncio.create_task(bot.start(token), name="discord")
    while not bot.is_ready():
        if runner.done():
            runner.result()
            raise RuntimeError("the bot stopped before it was ready")
        await asyncio.sleep(0.01)
    profile = os.environ.get("BENCH_PROFILE") or None
    profile_out = Path(os.environ["BENCH_PROFILE_OUT"]) if os.environ.get("BENCH_PROFILE_OUT") else None
    lag = LoopLag()
    lag.start()
    collections = GcPauses()
    collections.start()
    if os.environ.get("BENCH_GC_THRESHOLD"):  # an experiment: other collector thresholds than the bot's
        gc.set_threshold(*(int(value) for value in os.environ["BENCH_GC_THRESHOLD"].split(",")))
    with profiled(profile, profile_out, progress):
        print("READY", flush=True)
        await stop.wait()
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError, discord.DiscordException):
            await runner  # the bot has closed the model client too
    lag.stop()
    collections.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "loop_lag": lag.samples,
        "gc_pauses": collections.samples,
        "listener_at": {str(k): v for k, v in listener_at.items()},
        "stream_called": stream_called,
        "request_written": request_written,
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
    }


def main() -> int:
    probes_out = Path(os.environ["BENCH_PROBES_OUT"])
    probes_out.write_text(json.dumps(asyncio.run(serve())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
