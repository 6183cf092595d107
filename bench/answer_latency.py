"""Answer latency: many servers, many questions in flight, the fake model at a fixed pace (issue 4).

The bot runs in a process of its own (`bench/answer_latency_bot.py`: `CultureBot` built as `culturebot run`
builds it, with its SQLite database in a temporary directory), as in production, where Discord and the model
are elsewhere. The fake model (`FakeOpenAI`, real HTTP; the bot's own `openai` client) runs in another
(`bench/answer_latency_model.py`), and this process runs `DiscordStandIn` (real websocket gateway; the bot's
real discord.py connects to it) and measures.
Setup: S servers, each with a channel, M members, the scope template declared, cooldown 0 and a large daily
token budget. Before anything is measured every server has answered one question (a fast-model warm-up), so
caches are as in a bot that has been running (`--warmup one|none` changes that).

The fake model waits `--ttft` seconds before the first token, then streams `--answer-tokens` tokens at `--tps`
tokens/s, one chunk per token like hosted APIs; the bot streams them into Discord with its default edit
interval (1 s). An answer therefore lasts L = ttft + answer_tokens / tps.

Phases:
- "alone": `--solo` questions asked one at a time, each after the previous answer closed: the bot's own
  service time with nothing else to do.
- "steady" (the targets): questions arrive evenly at in_flight / L per second for `--duration` seconds, so
  that `--in-flight` (200) questions are being answered at any moment across the servers; each by a member
  who has no other question open. `mean_questions_in_flight` reports what was achieved.
- "burst" (reported, no target): `--burst` questions (200) sent at the same instant, each by a different
  member: the worst case of a queue, where the last question waits for the bot's work on all the others.

Measured per question (all `time.monotonic()`, one clock for the machine's processes):
- sent: when the stand-in wrote the question's MESSAGE_CREATE frame to the bot's websocket (the bench wraps
  the stand-in's gateway send to take this time);
- written: when the bot's process wrote the chat-completions request to the model's connection (a probe in
  the bot's process, matched by a tag in the question);
- received: when the fake model received that request (the fake sees the tag in the last user message);
- first visible: when the stand-in created the bot's first message of the answer.

Targets (steady phase): the bot's own time (written - sent, `overhead_to_request_written_ms`) <= 10 ms at
p99; first visible text <= ttft + 300 ms at p99; no answer lost or duplicated in any phase (exactly one closed
answer record, one first message and at most one reply per question, holding the whole model text). Peak RSS
of the bot's process is reported. `overhead_ms` (received - sent) adds the fake model's delay in reading the
request, which is busy streaming 10,000 chunks a second in a process of its own: reported, not the target.

`overhead_breakdown_ms` splits the overhead at probes in the bot's process that only observe: an extra
`on_message` listener (discord.py handed the message to listeners), a wrapper noting when the pipeline
calls the model client's `stream()`, and one noting when the request's bytes are written. `cpu` gives the CPU
use of the bot, the fake model and the harness per phase; the bot's near 1.0 core means its event loop was
saturated, and the three together near 2.0 (on two cores) means the machine was.

Prints one JSON object on stdout; progress goes to stderr. Exit status 0 when every target is met.

    .venv/bin/python -m bench.answer_latency            # 100 servers, 200 in flight for 30 s, then a burst
    .venv/bin/python -m bench.answer_latency --quick    # 10 servers, 20 in flight for 5 s
    .venv/bin/python -m bench.answer_latency --profile cprofile   # also profile the bot (its stderr)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import itertools
import json
import os
import platform
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
from aiohttp import web

from bench.common import GcPauses, LoopLag, percentiles, read_db, run_benchmark
from bot.sandbox.discord import DiscordStandIn
from bot.scopes.manage import store_document
from bot.scopes.templates import load_template
from bot.storage import ScopeSource, SqliteStorage

TARGET_OVERHEAD_P99_MS = 10.0
TARGET_FIRST_VISIBLE_OVER_TTFT_P99_MS = 300.0
# The stand-in and the fake model listen with aiohttp's default backlog of 128; 200 connections opened at once
# overflow it and the kernel's SYN retry adds a whole second to some requests. The harness gets a deeper one.
HARNESS_LISTEN_BACKLOG = 1024
PSEUDONYM_KEY = "bench-" + "k" * 26
SCOPE_TEMPLATE = "indonesian-business-jakarta"
MODERATOR_ID = 42
CURSOR_MARK = "▌"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

QUESTIONS = (
    "How should I greet my manager's father at a family event in Jakarta?",
    "Is it rude to decline a second helping of food at my colleague's house?",
    "What should I call my new boss in emails, Pak or Bapak with the first name?",
    "When a client says 'nanti' about a deadline, what does it usually mean?",
    "How formal should my WhatsApp message to a senior director be?",
    "Can I bring up salary with my team lead during Ramadan?",
    "What gift is appropriate when visiting a coworker after Lebaran?",
    "How do I disagree with an older colleague in a meeting without causing offence?",
)
ANSWER_PROSE = (
    "Use Pak or Bu with the first name; it shows respect without distance. In a meeting, wait for the senior "
    "person to speak first, and soften disagreement with a question. Practice varies by company, generation "
    "and region, so watch what colleagues do and follow their lead. When unsure, ask a trusted peer quietly "
    "afterwards rather than guessing in front of everyone."
)
ANSWER_WORDS = ANSWER_PROSE.split(" ")


def progress(message: str) -> None:
    print(f"[answer_latency {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    servers: int
    members_per_server: int
    in_flight: int
    duration: float
    burst: int
    ttft: float
    tps: float
    answer_tokens: int
    edit_interval: float
    warmup: str
    warmup_concurrency: int
    solo: int
    settle_timeout: float
    timeout: float
    quick: bool
    profile: str | None
    profile_out: Path | None
    pin: str

    @property
    def answer_seconds(self) -> float:
        """How long the fake model takes for one answer."""
        return self.ttft + self.answer_tokens / self.tps

    @property
    def arrivals_per_second(self) -> float:
        return self.in_flight / self.answer_seconds


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.answer_latency",
        description="Answer latency with many questions in flight, through the Discord stand-in (prints JSON).",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run (10 servers, 20 in flight)")
    parser.add_argument("--servers", type=int, default=None, help="servers (default 100; quick 10)")
    parser.add_argument("--members-per-server", type=int, default=10, help="members asking in each server (10)")
    parser.add_argument("--in-flight", type=int, default=None, help="questions in flight, steady phase (200; quick 20)")
    parser.add_argument("--duration", type=float, default=None, help="seconds of steady arrivals (30; quick 5)")
    parser.add_argument(
        "--burst", type=int, default=None, help="questions sent at once, burst phase (200; quick 20; 0 skips)"
    )
    parser.add_argument("--ttft", type=float, default=0.5, help="fake model's time to first token, seconds (0.5)")
    parser.add_argument("--tps", type=float, default=50.0, help="fake model's tokens per second (50)")
    parser.add_argument("--answer-tokens", type=int, default=200, help="tokens per answer (200, about 150 words)")
    parser.add_argument(
        "--edit-interval", type=float, default=1.0, help="the bot's stream_edit_interval, seconds (1.0, its default)"
    )
    parser.add_argument(
        "--warmup",
        choices=("each", "one", "none"),
        default="each",
        help="before measuring, one fast answer in every server (each), in one server (one) or none",
    )
    parser.add_argument("--warmup-concurrency", type=int, default=10, help="warm-up questions in flight (10)")
    parser.add_argument(
        "--solo",
        type=int,
        default=None,
        help="questions asked one at a time first, for the unloaded figures (default 10; quick 3; 0 skips)",
    )
    parser.add_argument("--settle-timeout", type=float, default=120.0, help="seconds to wait for every answer (120)")
    parser.add_argument("--timeout", type=float, default=900.0, help="hard limit for the whole run, seconds (900)")
    parser.add_argument(
        "--profile", choices=("cprofile",), default=None, help="profile the bot's process (printed to stderr at exit)"
    )
    parser.add_argument("--profile-out", type=Path, default=None, help="also save the profile here (.pstats)")
    parser.add_argument(
        "--pin",
        choices=("auto", "off"),
        default="auto",
        help="auto: with 2 or more usable cores, the bot gets a core of its own and the fake model and the harness "
        "share the others (as in production, where the model and Discord run elsewhere); off: the OS places all three",
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)

    def pick(value: Any, full: Any, small: Any) -> Any:
        return value if value is not None else (small if quick else full)

    options = Options(
        servers=pick(args.servers, 100, 10),
        members_per_server=args.members_per_server,
        in_flight=pick(args.in_flight, 200, 20),
        duration=pick(args.duration, 30.0, 5.0),
        burst=max(0, pick(args.burst, 200, 20)),
        ttft=args.ttft,
        tps=args.tps,
        answer_tokens=args.answer_tokens,
        edit_interval=args.edit_interval,
        warmup=args.warmup,
        warmup_concurrency=max(1, args.warmup_concurrency),
        solo=max(0, pick(args.solo, 10, 3)),
        settle_timeout=args.settle_timeout,
        timeout=args.timeout,
        quick=quick,
        profile=args.profile,
        profile_out=args.profile_out,
        pin=args.pin,
    )
    if options.servers < 1 or options.members_per_server < 1 or options.in_flight < 1 or options.duration <= 0:
        parser.error("need at least 1 server, 1 member per server, 1 question in flight and a positive duration")
    if options.ttft < 0 or options.tps <= 0 or options.answer_tokens < 3:
        parser.error("--ttft must be >= 0, --tps > 0 and --answer-tokens >= 3")
    if not 0.2 <= options.edit_interval <= 10:
        parser.error("--edit-interval must be between 0.2 and 10 (the setting's range)")
    members = options.servers * options.members_per_server
    if options.burst > members:
        parser.error(f"--burst {options.burst} needs as many members; there are {members}")
    # A member asks again only after L + slack; fewer members than that would queue behind themselves.
    if members < options.arrivals_per_second * (options.answer_seconds + 1.0):
        parser.error(
            f"{members} members are too few for {options.arrivals_per_second:.0f} questions/s lasting "
            f"{options.answer_seconds:.1f}s each: raise --members-per-server"
        )
    return options


# ---------------------------------------------------------------------------------------------- the world


@dataclass
class Server:
    guild_id: int
    channel_id: int
    members: list[int]


@dataclass
class Asked:
    """One question of the burst and what was observed about it."""

    index: int
    tag: str
    server: Server
    author_id: int
    text: str
    due: float = 0.0  # seconds after the phase starts when it is sent
    message_id: int | None = None
    handed_at: float | None = None  # the bench called send_message
    sent_at: float | None = None  # the stand-in wrote the MESSAGE_CREATE frame


@dataclass
class Probes:
    """Times observed around the bot without changing what it does."""

    frames_sent: dict[int, float] = field(default_factory=dict)  # message id -> MESSAGE_CREATE frame written
    bot_loop_lag: LoopLag = field(default_factory=LoopLag)  # samples from the bot's process
    bot_gc: GcPauses = field(default_factory=GcPauses)  # the bot's garbage collections
    model_loop_lag: LoopLag = field(default_factory=LoopLag)  # samples from the fake model's process
    harness_loop_lag: LoopLag = field(default_factory=LoopLag)  # this process's
    listener_at: dict[int, float] = field(default_factory=dict)  # message id -> discord.py ran on_message listeners
    stream_called: dict[str, list[float]] = field(default_factory=dict)  # tag -> pipeline called ModelClient.stream
    request_written: dict[str, list[float]] = field(default_factory=dict)  # tag -> the bot wrote the chat request

    def loop_lags(self, start: float, end: float) -> dict[str, Any]:
        """How late each process's event loop ran a timer between `start` and `end` (ms percentiles)."""
        return {
            "bot": self.bot_loop_lag.between(start, end),
            "fake_model": self.model_loop_lag.between(start, end),
            "harness": self.harness_loop_lag.between(start, end),
        }


def answer_text(tag: str, tokens: int) -> str:
    """About `tokens` of the fake's token-ish pieces (words), starting with the tag."""
    words = [f"Answer {tag}:"]
    i = 0
    while len(" ".join(words).split()) < tokens:
        words.append(ANSWER_WORDS[i % len(ANSWER_WORDS)])
        i += 1
    return " ".join(words)


def bot_environment(standin: DiscordStandIn, model_base_url: str, db: Path, options: Options) -> dict[str, str]:
    """`culturebot run`'s configuration for the bot's process: the stand-in, the fake model, a fresh database."""
    settings = {
        "DISCORD_TOKEN": standin.token,
        "DISCORD_API_BASE": standin.api_base,
        "DISCORD_GATEWAY_URL": standin.gateway_url,
        "GUILD_READY_TIMEOUT": "0.05",
        "DATABASE_PATH": str(db),
        "PSEUDONYM_KEY": PSEUDONYM_KEY,
        "MODEL_BASE_URL": model_base_url,
        "MODEL_NAME": "fake-model",
        "MODEL_MAX_RETRIES": "1",
        "MODEL_TIMEOUT_SECONDS": "60",
        "STREAM_EDIT_INTERVAL": str(options.edit_interval),
        "SHUTDOWN_GRACE_SECONDS": "10",
        "DIGEST_DIR": str(db.parent / "digests"),
        "LOG_LEVEL": "WARNING",
    }
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("CULTUREBOT_")}
    return inherited | {f"CULTUREBOT_{name}": value for name, value in settings.items()}


@dataclass(frozen=True)
class Affinity:
    """Which cores each of the benchmark's processes may run on; None leaves it to the OS."""

    bot: frozenset[int] | None = None
    model: frozenset[int] | None = None
    harness: frozenset[int] | None = None

    @classmethod
    def plan(cls, mode: str, usable: Iterable[int]) -> Affinity:
        """`auto`: the bot alone on the first usable core, the fake model and the harness on the rest.

        On the 2-core VM the three processes need about 1.2 cores together; unpinned, the bot's timestamps
        are taken while the instruments (10,000 fake-model chunks a second, the stand-in's gateway) preempt it
        on whichever core it is on. In production the model and Discord run on other machines, so a bot with
        one core of its own is the deployment being measured (and one core is less than it could take
        unpinned). With fewer than 2 usable cores there is nothing to separate.
        """
        cores = sorted(usable)
        if mode == "off" or len(cores) < 2:
            return cls()
        return cls(bot=frozenset(cores[:1]), model=frozenset(cores[1:]), harness=frozenset(cores[1:]))

    def as_json(self) -> dict[str, list[int] | None] | None:
        if self.bot is None and self.model is None and self.harness is None:
            return None
        return {
            name: sorted(cores) if cores is not None else None
            for name, cores in (("bot", self.bot), ("fake_model", self.model), ("harness", self.harness))
        }


class ChildProcess:
    """A process of the benchmark's, started with `python -m MODULE` and ready once it printed READY."""

    def __init__(self, process: asyncio.subprocess.Process, out: Path, ready_line: str) -> None:
        self.process = process
        self.out = out
        self.ready_line = ready_line

    @classmethod
    async def launch(
        cls, module: str, args: list[str], env: dict[str, str] | None, out: Path, cores: frozenset[int] | None
    ) -> ChildProcess:
        # Set in the child before it runs Python, so every thread it starts later inherits the cores.
        pin = functools.partial(os.sched_setaffinity, 0, cores) if cores is not None else None
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, *args, env=env, stdout=asyncio.subprocess.PIPE, preexec_fn=pin
        )
        assert process.stdout is not None
        try:
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=120)).decode().strip()
        except TimeoutError:
            process.kill()
            raise RuntimeError(f"{module} was not ready within 120 s") from None
        if not line.startswith("READY"):
            await process.wait()
            raise RuntimeError(f"{module} exited ({process.returncode}) before it was ready; see stderr")
        return cls(process, out, line)

    def cpu_seconds(self) -> float:
        """User + system CPU the process has used so far (Linux /proc)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_mb(self) -> float | None:
        try:
            with open(f"/proc/{self.process.pid}/statm") as statm:
                return round(int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
        except (OSError, ValueError, IndexError):
            return None

    async def terminate(self) -> tuple[int, dict[str, Any] | None]:
        """SIGTERM, as in production; its exit code and what it wrote to `out`."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout=60)
        except TimeoutError:
            self.process.kill()
            code = await self.process.wait()
        return code, json.loads(self.out.read_text()) if self.out.exists() else None


async def start_bot(env: dict[str, str], work: Path, options: Options, cores: frozenset[int] | None) -> ChildProcess:
    """The bot in its own process (bench/answer_latency_bot.py), connected to the stand-in."""
    probes_out = work / "probes.json"
    env = env | {"BENCH_PROBES_OUT": str(probes_out)}
    if options.profile:
        env["BENCH_PROFILE"] = options.profile
        if options.profile_out:
            env["BENCH_PROFILE_OUT"] = str(options.profile_out)
    return await ChildProcess.launch("bench.answer_latency_bot", [], env, probes_out, cores)


async def stop_bot(bot: ChildProcess, probes: Probes) -> dict[str, Any]:
    """Shut the bot down; merge its probes; its exit code, CPU and peak RSS."""
    code, found = await bot.terminate()
    if found is None:
        return {"exit_code": code}
    probes.listener_at.update({int(k): float(v) for k, v in found["listener_at"].items()})
    probes.stream_called.update(found["stream_called"])
    probes.request_written.update(found["request_written"])
    probes.bot_loop_lag.samples = [(at, lag) for at, lag in found["loop_lag"]]
    probes.bot_gc.samples = [(at, generation, took) for at, generation, took in found["gc_pauses"]]
    return {"exit_code": code, "cpu_s": found["cpu_s"], "peak_rss_mb": found["peak_rss_mb"]}


@dataclass(frozen=True)
class ModelRequest:
    """One chat-completions request as the fake model saw it."""

    tag: str | None
    received_at: float
    first_chunk_at: float | None
    finished_at: float | None


async def start_model(work: Path, options: Options, cores: frozenset[int] | None) -> tuple[ChildProcess, str]:
    """The fake model in its own process (bench/answer_latency_model.py); its base URL."""
    out = work / "model.json"
    args = ["--ttft", str(options.ttft), "--tps", str(options.tps), "--answer-tokens", str(options.answer_tokens)]
    model = await ChildProcess.launch("bench.answer_latency_model", [*args, "--out", str(out)], None, out, cores)
    return model, model.ready_line.split(maxsplit=1)[1]


async def stop_model(model: ChildProcess, probes: Probes) -> tuple[list[ModelRequest], dict[str, Any]]:
    """Stop the fake model; the requests it received and its exit code and CPU."""
    code, found = await model.terminate()
    if found is None:
        return [], {"exit_code": code}
    probes.model_loop_lag.samples = [(at, lag) for at, lag in found["loop_lag"]]
    measured = {"exit_code": code, "cpu_s": found["cpu_s"], "peak_rss_mb": found["peak_rss_mb"]}
    return [ModelRequest(**request) for request in found["requests"]], measured


def watch_gateway(standin: DiscordStandIn, probes: Probes) -> None:
    """Note when each MESSAGE_CREATE frame is written to the bot's websocket."""
    gateway = standin.core.gateway
    original = gateway._send_dispatch

    async def timed(session: Any, event: str, data: Any) -> None:
        # Taken as the frame is handed over (the bot, in another process, may read it before the write returns).
        if event == "MESSAGE_CREATE":
            probes.frames_sent.setdefault(int(data["id"]), time.monotonic())
        await original(session, event, data)

    setattr(gateway, "_send_dispatch", timed)  # noqa: B010 (an instance attribute over the method)


async def prepare_database(db: Path, servers: list[Server]) -> None:
    """The scope template declared in every server, cooldown 0 and a budget that never runs out."""
    storage = await SqliteStorage.open(db)
    try:
        await storage.migrate()
        document = load_template(SCOPE_TEMPLATE)
        for server in servers:
            await store_document(storage, server.guild_id, MODERATOR_ID, document, ScopeSource.TEMPLATE, "benchmark")
            await storage.update_guild_settings(
                server.guild_id,
                MODERATOR_ID,
                {"cooldown_seconds": 0, "daily_token_budget": 10**8},
                detail="benchmark set-up",
            )
    finally:
        await storage.close()


async def wait_for_answers(db: Path, message_ids: list[int], *, limit_s: float, what: str) -> bool:
    """Poll until every question has a closed answer record (the bot closes it after its last Discord call)."""
    deadline = time.monotonic() + limit_s
    wanted = set(message_ids)
    while True:
        rows = await asyncio.to_thread(
            read_db, db, "SELECT question_message_id FROM answers WHERE outcome != 'streaming'"
        )
        done = wanted & {int(r[0]) for r in rows if r[0] is not None}
        if len(done) == len(wanted):
            return True
        if time.monotonic() > deadline:
            progress(f"{what}: gave up after {limit_s:.0f}s with {len(done)}/{len(wanted)} answers closed")
            return False
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------------------------------------- measuring


class CpuMeter:
    """CPU used by the bot's process, the fake model's, and this one (the harness: stand-in and measuring)."""

    def __init__(self, bot: ChildProcess, model: ChildProcess) -> None:
        self.bot = bot
        self.model = model
        self.started = time.monotonic()
        self.bot_cpu = bot.cpu_seconds()
        self.model_cpu = model.cpu_seconds()
        self.harness_cpu = time.process_time()

    def used(self) -> dict[str, float]:
        wall = max(time.monotonic() - self.started, 1e-3)
        bot = self.bot.cpu_seconds() - self.bot_cpu
        model = self.model.cpu_seconds() - self.model_cpu
        harness = time.process_time() - self.harness_cpu
        return {
            "wall_s": round(wall, 3),
            "bot_cpu_s": round(bot, 3),
            "bot_cores": round(bot / wall, 3),
            "model_cpu_s": round(model, 3),
            "model_cores": round(model / wall, 3),
            "harness_cpu_s": round(harness, 3),
            "harness_cores": round(harness / wall, 3),
        }


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment."""
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    best = current = 0
    for _, step in points:
        current += step
        best = max(best, current)
    return best


def mean_overlap(intervals: list[tuple[float, float]], start: float, end: float) -> float:
    """The average number of intervals open between `start` and `end`."""
    covered = sum(max(0.0, min(b, end) - max(a, start)) for a, b in intervals)
    return round(covered / max(end - start, 1e-9), 1)


# ---------------------------------------------------------------------------------------------- phases


async def warm_up(
    standin: DiscordStandIn, db: Path, servers: list[Server], options: Options, mention: str
) -> dict[str, Any]:
    """Fast answers (no model delay) before the burst: in every server, one server, or none."""
    chosen = servers if options.warmup == "each" else servers[:1] if options.warmup == "one" else []
    if not chosen:
        return {"questions": 0}
    started = time.monotonic()
    semaphore = asyncio.Semaphore(options.warmup_concurrency)
    ids: list[int] = []

    async def ask(index: int, server: Server) -> None:
        async with semaphore:
            text = f"{mention} {QUESTIONS[index % len(QUESTIONS)]} (ref wu{index:05d})"
            message = await standin.send_message(server.channel_id, server.members[0], text)
            ids.append(int(message["id"]))
            await wait_for_answers(db, [int(message["id"])], limit_s=60, what=f"warm-up answer {index}")

    await asyncio.gather(*(ask(i, server) for i, server in enumerate(chosen)))
    closed = await wait_for_answers(db, ids, limit_s=30, what="warm-up")
    elapsed = time.monotonic() - started
    progress(f"warm-up: {len(ids)} answers in {elapsed:.1f}s")
    return {"questions": len(ids), "all_closed": closed, "elapsed_s": round(elapsed, 2)}


async def ask_alone(
    standin: DiscordStandIn, db: Path, servers: list[Server], options: Options, mention: str
) -> list[Asked]:
    """Questions one at a time (each waits for the previous answer to close), at the model's configured pace."""
    asked_alone = []
    for i in range(options.solo):
        server = servers[i % len(servers)]
        tag = f"so{i:05d}"
        asked = Asked(i, tag, server, server.members[0], f"{mention} {QUESTIONS[i % len(QUESTIONS)]} (ref {tag})")
        asked.handed_at = time.monotonic()
        message = await standin.send_message(server.channel_id, asked.author_id, asked.text)
        asked.message_id = int(message["id"])
        asked_alone.append(asked)
        await wait_for_answers(db, [asked.message_id], limit_s=60, what=f"question {tag} asked alone")
    return asked_alone


async def fire(standin: DiscordStandIn, questions: list[Asked]) -> float:
    """Send every question at its `due` time after now (all at once when they are 0); the seconds it took."""
    started = time.monotonic()

    async def send(asked: Asked) -> None:
        delay = started + asked.due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        asked.handed_at = time.monotonic()
        message = await standin.send_message(asked.server.channel_id, asked.author_id, asked.text)
        asked.message_id = int(message["id"])

    await asyncio.gather(*(send(asked) for asked in questions))
    return time.monotonic() - started


def analyse(
    standin: DiscordStandIn,
    model_requests: list[ModelRequest],
    db: Path,
    questions: list[Asked],
    probes: Probes,
    options: Options,
) -> dict[str, Any]:
    """Per-question latencies, and whether each question got exactly one complete answer."""
    requests_by_tag: dict[str, list[ModelRequest]] = {}
    for request in model_requests:
        if request.tag is not None:
            requests_by_tag.setdefault(request.tag, []).append(request)
    rows = read_db(
        db,
        "SELECT answer_id, question_message_id, outcome, answer, error, ttft_ms, total_ms FROM answers "
        "WHERE question_message_id IS NOT NULL",
    )
    rows_by_question: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        rows_by_question.setdefault(int(row[1]), []).append(row)
    # The message each answer starts in, as the bot registered it (found wherever it is: channel or thread).
    first_part = {
        int(a): int(m) for a, m in read_db(db, "SELECT answer_id, message_id FROM answer_messages WHERE part = 0")
    }
    replies: dict[int, list[Any]] = {}  # question message id -> bot messages replying to it in the channel
    post_time: dict[int, float] = {}  # bot message id -> when its POST reached the stand-in
    for server in {id(q.server): q.server for q in questions}.values():
        for message in standin.bot_messages(server.channel_id):
            reference = message.message_reference or {}
            if reference.get("message_id") is not None:
                replies.setdefault(int(reference["message_id"]), []).append(message)
    for post in standin.find_requests("POST", r"^/channels/\d+/messages$"):
        replying_to = post.json.get("message_reference") if isinstance(post.json, dict) else None
        if isinstance(replying_to, dict) and replying_to.get("message_id") is not None:
            post_time.setdefault(int(replying_to["message_id"]), post.time)

    overhead: list[float] = []
    overhead_spans: list[tuple[float, float]] = []  # (frame sent, request received), monotonic
    own_time: list[float] = []  # frame sent -> the bot wrote the request
    stream_to_written: list[float] = []
    written_to_received: list[float] = []
    overhead_once_full: list[float] = []  # questions sent after the first answer's length into the phase
    gateway_to_listener: list[float] = []
    listener_to_stream: list[float] = []
    stream_to_received: list[float] = []
    first_visible: list[float] = []
    first_visible_over_ttft: list[float] = []
    first_post_over_ttft: list[float] = []
    fake_ttft: list[float] = []
    chunk_to_visible: list[float] = []
    edits_per_answer: list[float] = []
    stream_edit_gaps: list[float] = []
    in_flight: list[tuple[float, float]] = []
    problems: dict[str, list[str]] = {
        "lost": [],
        "duplicated": [],
        "not_ok": [],
        "incomplete_text": [],
        "extra_model_requests": [],
        "no_timing": [],
    }
    expected_tokens = options.answer_tokens
    for asked in questions:
        mid = asked.message_id
        assert mid is not None
        asked.sent_at = probes.frames_sent.get(mid)
        answer_rows = rows_by_question.get(mid, [])
        ok_rows = [r for r in answer_rows if r[2] == "ok"]
        registered = [standin.state.messages.get(first_part.get(int(r[0]), -1)) for r in answer_rows]
        shown = [m for m in registered if m is not None and not m.deleted]
        replying = replies.get(mid, [])
        bot_replies = shown or replying
        requests = requests_by_tag.get(asked.tag, [])
        if not ok_rows or not bot_replies:
            problems["lost"].append(asked.tag)
        if len(answer_rows) > 1 or len(shown) > 1 or len(replying) > 1:
            problems["duplicated"].append(asked.tag)
        if answer_rows and not ok_rows:
            problems["not_ok"].append(f"{asked.tag}: {answer_rows[0][2]} ({answer_rows[0][4]})")
        if len(requests) > 1:
            problems["extra_model_requests"].append(f"{asked.tag}: {len(requests)}")
        if bot_replies:
            final = bot_replies[0].content
            if final.strip() != answer_text(asked.tag, expected_tokens) or CURSOR_MARK in final:
                problems["incomplete_text"].append(asked.tag)
        if asked.sent_at is None or not requests or not bot_replies:
            problems["no_timing"].append(asked.tag)
            continue
        request = requests[0]
        sent = asked.sent_at
        overhead.append((request.received_at - sent) * 1000)
        overhead_spans.append((sent, request.received_at))
        if asked.due >= options.answer_seconds:
            overhead_once_full.append(overhead[-1])
        listener = probes.listener_at.get(mid)
        calls = probes.stream_called.get(asked.tag)
        called = calls[0] if calls else None
        if listener is not None and called is not None:
            gateway_to_listener.append((listener - sent) * 1000)
            listener_to_stream.append((called - listener) * 1000)
            stream_to_received.append((request.received_at - called) * 1000)
        writes = probes.request_written.get(asked.tag)
        if writes:
            own_time.append((writes[0] - sent) * 1000)
            written_to_received.append((request.received_at - writes[0]) * 1000)
            if called is not None:
                stream_to_written.append((writes[0] - called) * 1000)
        message = bot_replies[0]
        visible = message.created
        first_visible.append((visible - sent) * 1000)
        first_visible_over_ttft.append((visible - sent - options.ttft) * 1000)
        if mid in post_time:
            first_post_over_ttft.append((post_time[mid] - sent - options.ttft) * 1000)
        if request.first_chunk_at is not None:
            fake_ttft.append((request.first_chunk_at - request.received_at) * 1000)
            chunk_to_visible.append((visible - request.first_chunk_at) * 1000)
        if request.finished_at is not None:
            in_flight.append((sent, request.finished_at))
        edits_per_answer.append(len(message.edits))
        renders = [message.created, *(edit.at for edit in message.edits)]
        # The last edit is the final one (cursor removed, controls added), allowed sooner than the interval.
        stream_edit_gaps += [(b - a) * 1000 for a, b in itertools.pairwise(renders[:-1])]

    counts = {name: len(items) for name, items in problems.items()}
    # Did the slowest 1% wait for a garbage collection in the bot? (Pauses of 1 ms or more.)
    ranked = sorted(overhead_spans, key=lambda span: span[1] - span[0])
    slowest = ranked[-max(1, len(ranked) // 100) :] if ranked else []
    pauses = [(at, at + took) for at, _, took in probes.bot_gc.samples if took >= 0.001]
    slowest_in_gc = sum(any(a < end and start < b for a, b in pauses) for start, end in slowest)
    sends = [q.sent_at for q in questions if q.sent_at is not None]
    return {
        "questions": len(questions),
        "answered_ok": len(questions) - len(problems["lost"]),
        **counts,
        "problem_examples": {name: items[:5] for name, items in problems.items() if items},
        "peak_questions_in_flight": max_overlap(in_flight),
        # Averaged while questions were arriving (first to last sent), from sent to the model's last token.
        "mean_questions_in_flight": mean_overlap(in_flight, min(sends), max(sends)) if sends else None,
        "overhead_ms": percentiles(overhead),
        # Reported, not the target: the phase without its ramp-up, once `in_flight` questions were open.
        "overhead_ms_once_full": percentiles(overhead_once_full),
        "slowest_1pct_overhead_during_bot_gc": {"questions": len(slowest), "during_gc": slowest_in_gc},
        "overhead_breakdown_ms": {
            "gateway_frame_to_on_message": percentiles(gateway_to_listener),
            "on_message_to_model_stream_call": percentiles(listener_to_stream),
            "model_stream_call_to_fake_received": percentiles(stream_to_received),
            "model_stream_call_to_request_written": percentiles(stream_to_written),
            "request_written_to_fake_received": percentiles(written_to_received),
        },
        # The bot's own part: until its process wrote the request, without the fake model's delay in taking it.
        "overhead_to_request_written_ms": percentiles(own_time),
        "first_visible_ms": percentiles(first_visible),
        "first_visible_minus_ttft_ms": percentiles(first_visible_over_ttft),
        "first_post_request_minus_ttft_ms": percentiles(first_post_over_ttft),
        "first_visible_breakdown_ms": {
            "fake_ttft_actual": percentiles(fake_ttft),
            "first_chunk_to_visible": percentiles(chunk_to_visible),
        },
        "edits": {
            "per_answer": percentiles(edits_per_answer),
            "min_gap_between_streaming_renders_ms": round(min(stream_edit_gaps), 1) if stream_edit_gaps else None,
        },
    }


# ---------------------------------------------------------------------------------------------- main


@contextlib.contextmanager
def harness_backlog(backlog: int) -> Iterator[None]:
    """aiohttp sites created meanwhile (the stand-in's, or the fake model's in its process) listen with `backlog`."""
    original = web.TCPSite.__init__

    def init(self: web.TCPSite, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("backlog", backlog)
        original(self, *args, **kwargs)

    setattr(web.TCPSite, "__init__", init)  # noqa: B010
    try:
        yield
    finally:
        setattr(web.TCPSite, "__init__", original)  # noqa: B010


def listen_overflows() -> int | None:
    """The kernel's count of connections dropped because a listen queue was full (Linux), machine-wide."""
    try:
        with open("/proc/net/netstat") as netstat:
            lines = netstat.read().splitlines()
    except OSError:
        return None
    for names, values in itertools.pairwise(lines):
        if names.startswith("TcpExt:") and values.startswith("TcpExt:"):
            fields = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(fields["ListenOverflows"]) if "ListenOverflows" in fields else None
    return None


@contextlib.asynccontextmanager
async def make_world(options: Options) -> AsyncIterator[tuple[DiscordStandIn, list[Server]]]:
    # Only the harness creates aiohttp sites in this process (the bot is a client), so the patch is left on.
    with harness_backlog(HARNESS_LISTEN_BACKLOG):
        async with DiscordStandIn(bot_username="culturebot") as standin:
            servers = []
            for s in range(options.servers):
                guild = standin.add_guild(f"Bench server {s}")
                channel = standin.add_channel(guild["id"], "ask-the-bot")
                members = [
                    int(standin.add_member(guild["id"], f"member{s}-{m}")["user"]["id"])
                    for m in range(options.members_per_server)
                ]
                servers.append(Server(int(guild["id"]), int(channel["id"]), members))
            yield standin, servers


def plan_questions(
    servers: list[Server], options: Options, mention: str, prefix: str, count: int, per_second: float | None
) -> list[Asked]:
    """Question i goes to server i mod S, asked by the next member there; `per_second` None: all at once.

    A member asks again only after every other member of the server has: at the steady rate that is after
    their previous answer ended (parse_options checks there are enough members).
    """
    planned = []
    for i in range(count):
        server = servers[i % len(servers)]
        member = server.members[(i // len(servers)) % len(server.members)]
        tag = f"{prefix}{i:05d}"
        text = f"{mention} {QUESTIONS[i % len(QUESTIONS)]} (ref {tag})"
        planned.append(Asked(i, tag, server, member, text, due=i / per_second if per_second else 0.0))
    return planned


async def measure(
    name: str,
    standin: DiscordStandIn,
    db: Path,
    bot: ChildProcess,
    model: ChildProcess,
    questions: list[Asked],
    options: Options,
) -> dict[str, Any]:
    """Send a phase's questions and wait for every answer to close; what it cost (analysed after the bot exits)."""
    cpu = CpuMeter(bot, model)
    started = time.monotonic()
    overflows_before = listen_overflows()
    send_s = await fire(standin, questions)
    progress(f"{name}: all {len(questions)} sent in {send_s:.2f}s; waiting for the answers")
    ids = [q.message_id for q in questions if q.message_id is not None]
    settled = await wait_for_answers(db, ids, limit_s=options.settle_timeout, what=name)
    overflows_after = listen_overflows()
    return {
        "window": (started, time.monotonic()),  # replaced by the loop lags once the processes have exited
        "send_s": round(send_s, 3),
        "settled": settled,
        "cpu": cpu.used(),
        "bot_rss_after_mb": bot.rss_mb(),
        # Connections the kernel dropped on a full listen queue (machine-wide): each costs a 1 s SYN retry.
        "tcp_listen_overflows": None
        if overflows_before is None or overflows_after is None
        else overflows_after - overflows_before,
    }


async def run(options: Options) -> dict[str, Any]:
    run_started = time.monotonic()
    usable = os.sched_getaffinity(0)
    affinity = Affinity.plan(options.pin, usable)
    result: dict[str, Any] = {
        "benchmark": "answer_latency",
        "targets": {
            "phase": "steady",
            "overhead_p99_ms": TARGET_OVERHEAD_P99_MS,
            "first_visible_minus_ttft_p99_ms": TARGET_FIRST_VISIBLE_OVER_TTFT_P99_MS,
            "lost": 0,
            "duplicated": 0,
        },
        "config": {
            "servers": options.servers,
            "members_per_server": options.members_per_server,
            "in_flight": options.in_flight,
            "duration_s": options.duration,
            "arrivals_per_s": round(options.arrivals_per_second, 2),
            "burst": options.burst,
            "ttft_s": options.ttft,
            "tokens_per_second": options.tps,
            "answer_tokens": options.answer_tokens,
            "answer_seconds": round(options.answer_seconds, 3),
            "stream_edit_interval_s": options.edit_interval,
            "warmup": options.warmup,
            "solo": options.solo,
            "quick": options.quick,
            "profiled": options.profile,
            "harness_listen_backlog": HARNESS_LISTEN_BACKLOG,
            "processes": "the bot, the fake model, and the stand-in with the measuring: one process each",
            "pin": options.pin,
            "cpu_affinity": affinity.as_json(),
        },
        "environment": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "discord_py": discord.__version__,
            "sqlite": sqlite3.sqlite_version,
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
    }
    if affinity.harness is not None:
        os.sched_setaffinity(0, affinity.harness)
    try:
        return await measure_all(options, result, affinity, run_started)
    finally:
        os.sched_setaffinity(0, usable)


async def measure_all(
    options: Options, result: dict[str, Any], affinity: Affinity, run_started: float
) -> dict[str, Any]:
    """Start the processes, run the phases and complete `result` with them and the summary."""
    probes = Probes()
    phases: dict[str, tuple[list[Asked], dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="culturebot-bench-") as tmp_name:
        work = Path(tmp_name)
        db = work / "bot.sqlite3"
        async with make_world(options) as (standin, servers):
            mention = f"<@{standin.bot_user_id}>"
            watch_gateway(standin, probes)
            probes.harness_loop_lag.start()
            started = time.monotonic()
            await prepare_database(db, servers)
            progress(f"setup: {len(servers)} servers with a scope, cooldown 0 ({time.monotonic() - started:.1f}s)")
            model, model_url = await start_model(work, options, affinity.model)
            model_requests: list[ModelRequest] = []
            try:
                bot = await start_bot(bot_environment(standin, model_url, db, options), work, options, affinity.bot)
                try:
                    progress(f"setup: the bot's process ({bot.process.pid}) is connected, RSS {bot.rss_mb()} MB")
                    # The harness is an instrument: its collector's full collections (100+ ms once the stand-in
                    # holds thousands of messages) would delay frames and the stand-in's timestamps. Paused
                    # while measuring; the bot's process runs as in production.
                    gc.collect()
                    gc.disable()
                    result["warmup"] = await warm_up(standin, db, servers, options, mention)
                    result["bot_rss_after_warmup_mb"] = bot.rss_mb()
                    if options.solo:
                        alone = await ask_alone(standin, db, servers, options, mention)
                        phases["alone"] = (alone, {})
                    steady = plan_questions(
                        servers,
                        options,
                        mention,
                        "sq",
                        round(options.arrivals_per_second * options.duration),
                        options.arrivals_per_second,
                    )
                    progress(
                        f"steady: {len(steady)} questions over {options.duration:g}s "
                        f"({options.arrivals_per_second:.1f}/s, each answer {options.answer_seconds:.1f}s: "
                        f"{options.in_flight} in flight) in {len(servers)} servers"
                    )
                    phases["steady"] = (steady, await measure("steady", standin, db, bot, model, steady, options))
                    if options.burst:
                        burst = plan_questions(servers, options, mention, "bq", options.burst, None)
                        progress(f"burst: {len(burst)} questions at once")
                        phases["burst"] = (burst, await measure("burst", standin, db, bot, model, burst, options))
                finally:
                    gc.enable()
                    result["bot_process"] = await stop_bot(bot, probes)
                progress(f"the bot's process exited ({result['bot_process'].get('exit_code')})")
            finally:
                model_requests, result["model_process"] = await stop_model(model, probes)
            # The bot adds its rating reactions after the final edit and closes the record last; it has exited,
            # so everything it did is in the stand-in and the database.
            probes.harness_loop_lag.stop()
            for name, (questions, measured) in phases.items():
                if "window" in measured:
                    window = measured.pop("window")
                    measured["loop_lag_ms"] = probes.loop_lags(*window)
                    measured["bot_gc"] = probes.bot_gc.between(*window)
                result[name] = measured | analyse(standin, model_requests, db, questions, probes, options)
    result["environment"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_s"] = round(time.monotonic() - run_started, 2)
    steady_result = result["steady"]
    overhead_p99 = steady_result["overhead_ms"]["p99"]
    own_p99 = steady_result["overhead_to_request_written_ms"]["p99"]
    visible_p99 = steady_result["first_visible_minus_ttft_ms"]["p99"]
    measured_phases = [result[name] for name in phases]
    checks = {
        # The bot's own time: until it wrote the request (the fake model's delay in reading it is not the bot's).
        "overhead": own_p99 is not None and own_p99 <= TARGET_OVERHEAD_P99_MS,
        "first_visible": visible_p99 is not None and visible_p99 <= TARGET_FIRST_VISIBLE_OVER_TTFT_P99_MS,
        "no_loss": all(p.get("settled", True) and p["lost"] == 0 and p["no_timing"] == 0 for p in measured_phases),
        "no_duplicates": all(p["duplicated"] == 0 and p["extra_model_requests"] == 0 for p in measured_phases),
        "complete_text": all(p["incomplete_text"] == 0 and p["not_ok"] == 0 for p in measured_phases),
        "clean_exit": result["bot_process"].get("exit_code") == 0,
    }
    burst_result = result.get("burst")
    alone_result = result.get("alone")
    result["summary"] = {
        "own_time_p99_ms": own_p99,
        "overhead_p99_ms": overhead_p99,
        "first_visible_minus_ttft_p99_ms": visible_p99,
        "mean_questions_in_flight": steady_result["mean_questions_in_flight"],
        "bot_cores_steady": steady_result["cpu"]["bot_cores"],
        "lost": sum(p["lost"] for p in measured_phases),
        "duplicated": sum(p["duplicated"] for p in measured_phases),
        "bot_peak_rss_mb": result["bot_process"].get("peak_rss_mb"),
        # For comparison, not targets: questions one at a time, and all at once.
        "alone_overhead_p99_ms": alone_result["overhead_ms"]["p99"] if alone_result else None,
        "burst_overhead_p99_ms": burst_result["overhead_ms"]["p99"] if burst_result else None,
        "burst_first_visible_minus_ttft_p99_ms": burst_result["first_visible_minus_ttft_ms"]["p99"]
        if burst_result
        else None,
        "checks": checks,
        "target_met": all(checks.values()),
    }
    progress(
        f"steady: the bot's own time p99 {own_p99} ms (target {TARGET_OVERHEAD_P99_MS:g}; until the fake model read "
        f"the request {overhead_p99} ms), first visible - ttft p99 "
        f"{visible_p99} ms (target {TARGET_FIRST_VISIBLE_OVER_TTFT_P99_MS:g}), "
        f"{steady_result['mean_questions_in_flight']} in flight on average; lost {result['summary']['lost']}, "
        f"duplicated {result['summary']['duplicated']}; bot peak RSS {result['summary']['bot_peak_rss_mb']} MB"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    return run_benchmark("answer_latency", run(options), options.timeout)


if __name__ == "__main__":
    sys.exit(main())
