"""Run the fake model server as its own process.

    python -m bot.sandbox.fake_openai --port 0 --reply "Hello." --ttft 0.1 --tokens-per-second 50

Prints one line, `READY http://HOST:PORT/v1`, on stdout once listening, then serves until SIGTERM or
SIGINT and exits 0.  Every request gets the default reply (there is no scripting across processes).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from ._model import Reply
from ._server import DEFAULT_REPLY_TEXT, FakeOpenAI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox.fake_openai", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--reply", default=DEFAULT_REPLY_TEXT, help="the text of every answer")
    parser.add_argument("--reasoning", default=None, help="reasoning streamed before every answer")
    parser.add_argument("--ttft", type=float, default=0.0, help="seconds before the first chunk")
    parser.add_argument("--tokens-per-second", type=float, default=None, help="default: as fast as possible")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    reply = Reply(args.reply, reasoning=args.reasoning, ttft=args.ttft, tokens_per_second=args.tokens_per_second)
    fake = FakeOpenAI(model=args.model, default_reply=reply)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await fake.start(host=args.host, port=args.port)
    try:
        sys.stdout.write(f"READY {fake.base_url}\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(_serve(_parser().parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
