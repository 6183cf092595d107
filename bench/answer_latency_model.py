"""The fake model in a process of its own for `bench.answer_latency`.

Streaming 200 answers at 50 tokens/s is 10,000 writes a second; in the harness's process, next to the Discord
stand-in, that work delayed the stand-in's frames and the fake's own timestamps by up to hundreds of
milliseconds under load, and those delays were counted against the bot. In production the model endpoint is
another machine too.

Every answer is `answer_text(tag, tokens)` for the question's tag; warm-up questions (tag `wu…`) are answered
at once, the others after `--ttft` seconds at `--tps` tokens per second.

Prints `READY <base_url>` on stdout once listening; on SIGTERM or SIGINT writes what each chat-completions
request's timing was (tag, received, first chunk, finished: `time.monotonic()`, one clock for the machine's
processes), its event loop's lag and this process's CPU time to `--out` as JSON, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import signal
import sys
from pathlib import Path
from typing import Any

from bench.answer_latency import HARNESS_LISTEN_BACKLOG, answer_text, harness_backlog
from bench.answer_latency_bot import tag_of
from bench.common import LoopLag
from bot.sandbox.fake_openai import FakeOpenAI, Reply


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.answer_latency_model", description=__doc__.split("\n")[0])
    parser.add_argument("--ttft", type=float, required=True)
    parser.add_argument("--tps", type=float, required=True)
    parser.add_argument("--answer-tokens", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> dict[str, Any]:
    def responder(body: dict[str, Any]) -> Reply:
        tag = tag_of(body.get("messages") or []) or "untagged"
        text = answer_text(tag, args.answer_tokens)
        if tag.startswith("wu"):
            return Reply(text)  # warm-up: at once
        return Reply(text, ttft=args.ttft, tokens_per_second=args.tps)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    lag = LoopLag()
    lag.start()
    with harness_backlog(HARNESS_LISTEN_BACKLOG):
        async with FakeOpenAI(model="fake-model", default_reply=responder) as model:
            # An instrument, not the system measured: its collector's pauses (100+ ms for a full collection)
            # would delay its timestamps and chunks. Its garbage is nearly all freed by reference counting.
            gc.collect()
            gc.freeze()
            gc.disable()
            print(f"READY {model.base_url}", flush=True)
            await stop.wait()
            lag.stop()
            requests = [
                {
                    "tag": tag_of(request.messages),
                    "received_at": request.received_at,
                    "first_chunk_at": request.first_chunk_at,
                    "finished_at": request.finished_at,
                }
                for request in model.chat_requests
            ]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "requests": requests,
        "loop_lag": lag.samples,
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def main() -> int:
    args = parse()
    args.out.write_text(json.dumps(asyncio.run(serve(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
