"""Answer latency: many servers, many questions in flight, the fake model at a fixed pace (issue 4).

The whole bot (`CultureBot`) runs in this process against `DiscordStandIn` (real websocket gateway, real
discord.py) and `FakeOpenAI` (real HTTP through the bot's own `openai` client), with its SQLite database in a
temporary directory. Setup: S servers, each with a channel, 2 members, the scope template declared, cooldown 0
and a large daily token budget. Before anything is measured every server has answered one question (a
fast-model warm-up), so caches are as in a bot that has been running (`--warmup one|none` changes that).

Phase "alone": `--solo` questions asked one at a time, each after the previous answer closed: the bot's own
service time with nothing else to do. Phase "burst" (the targets): Q questions fired at once (one
`asyncio.gather` of `standin.send_message`; `--spread S` sends them evenly over S seconds instead), each by a
different member, each mentioning the bot. The fake model waits `--ttft` seconds before the first token, then
streams `--answer-tokens` tokens at `--tps` tokens/s; the bot streams them into Discord with its default edit
interval (1 s).

Measured per question (all `time.monotonic()`: one process, one clock):
- sent: when the stand-in wrote the question's MESSAGE_CREATE frame to the bot's websocket (the bench wraps
  the stand-in's gateway send to take this time);
- received: when the fake model received the chat-completions request (matched by a tag in the question,
  which the fake sees in the last user message);
- first visible: when the stand-in created the bot's first message of the answer.

Targets: bot overhead (received - sent) <= 10 ms at p99; first visible text <= ttft + 300 ms at p99; no answer
lost or duplicated (exactly one closed answer record, one first message and at most one reply per question,
holding the whole model text). Peak RSS (getrusage) is reported, tracemalloc's peak with `--tracemalloc`.

`overhead_breakdown_ms` splits the overhead at two probes that only observe: an extra `on_message` listener
(discord.py handed the message to listeners) and a wrapper noting when the pipeline calls the model client's
`stream()`. Bot, stand-in and fake model share one event loop, so every figure includes waiting behind the
other questions and the harness; `cpu.loop_thread_busy` near 1.0 means the loop was saturated.

Prints one JSON object on stdout; progress goes to stderr. Exit status 0 when every target is met.

    .venv/bin/python -m bench.answer_latency            # 100 servers, 200 questions at once
    .venv/bin/python -m bench.answer_latency --quick    # 10 servers, 20 questions
    .venv/bin/python -m bench.answer_latency --profile cprofile   # also profile the burst (stderr)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import re
import resource
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
from aiohttp import web
from openai.types.chat import ChatCompletionMessageParam

from bench.common import percentiles, profiled, read_db, run_benchmark
from bot.app import client_for
from bot.config import Settings, load_settings
from bot.llm.client import ModelClient, StreamStats
from bot.pseudonyms import Pseudonymizer
from bot.runtime import CultureBot
from bot.sandbox.discord import DiscordStandIn
from bot.sandbox.discord.testing import connected
from bot.sandbox.fake_openai import FakeOpenAI, Reply
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

# Every question carries a tag the fake model sees in the prompt, so requests and replies match questions.
TAG_RE = re.compile(r"\b(bq|so|wu)(\d{5})\b")
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
    questions: int
    members_per_server: int
    ttft: float
    tps: float
    answer_tokens: int
    edit_interval: float
    spread: float
    warmup: str
    warmup_concurrency: int
    solo: int
    settle_timeout: float
    timeout: float
    quick: bool
    tracemalloc: bool
    profile: str | None
    profile_out: Path | None


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.answer_latency",
        description="Answer latency with many questions in flight, through the Discord stand-in (prints JSON).",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run (10 servers, 20 questions)")
    parser.add_argument("--servers", type=int, default=None, help="servers (default 100; quick 10)")
    parser.add_argument("--questions", type=int, default=None, help="questions fired at once (default 200; quick 20)")
    parser.add_argument("--members-per-server", type=int, default=2, help="members asking in each server (2)")
    parser.add_argument("--ttft", type=float, default=0.5, help="fake model's time to first token, seconds (0.5)")
    parser.add_argument("--tps", type=float, default=50.0, help="fake model's tokens per second (50)")
    parser.add_argument("--answer-tokens", type=int, default=40, help="tokens per answer (40)")
    parser.add_argument(
        "--edit-interval", type=float, default=1.0, help="the bot's stream_edit_interval, seconds (1.0, its default)"
    )
    parser.add_argument(
        "--spread", type=float, default=0.0, help="send the questions evenly over this many seconds (0: all at once)"
    )
    parser.add_argument(
        "--warmup",
        choices=("each", "one", "none"),
        default="each",
        help="before the burst, one fast answer in every server (each), in one server (one) or none",
    )
    parser.add_argument("--warmup-concurrency", type=int, default=10, help="warm-up questions in flight (10)")
    parser.add_argument(
        "--solo",
        type=int,
        default=None,
        help="questions asked one at a time before the burst, for the unloaded figures (default 10; quick 3; 0 skips)",
    )
    parser.add_argument("--settle-timeout", type=float, default=120.0, help="seconds to wait for every answer (120)")
    parser.add_argument("--timeout", type=float, default=600.0, help="hard limit for the whole run, seconds (600)")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="trace Python allocations during the burst (slows the bot down)"
    )
    parser.add_argument(
        "--profile", choices=("cprofile", "pyinstrument"), default=None, help="profile the burst phase (stderr)"
    )
    parser.add_argument("--profile-out", type=Path, default=None, help="also save the profile here (.pstats or .html)")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    servers = args.servers if args.servers is not None else (10 if quick else 100)
    questions = args.questions if args.questions is not None else (20 if quick else 200)
    options = Options(
        servers=servers,
        questions=questions,
        members_per_server=args.members_per_server,
        ttft=args.ttft,
        tps=args.tps,
        answer_tokens=args.answer_tokens,
        edit_interval=args.edit_interval,
        spread=max(0.0, args.spread),
        warmup=args.warmup,
        warmup_concurrency=max(1, args.warmup_concurrency),
        solo=max(0, args.solo if args.solo is not None else (3 if quick else 10)),
        settle_timeout=args.settle_timeout,
        timeout=args.timeout,
        quick=quick,
        tracemalloc=bool(args.tracemalloc),
        profile=args.profile,
        profile_out=args.profile_out,
    )
    if options.servers < 1 or options.questions < 1 or options.members_per_server < 1:
        parser.error("need at least 1 server, 1 question and 1 member per server")
    if options.ttft < 0 or options.tps <= 0 or options.answer_tokens < 3:
        parser.error("--ttft must be >= 0, --tps > 0 and --answer-tokens >= 3")
    if not 0.2 <= options.edit_interval <= 10:
        parser.error("--edit-interval must be between 0.2 and 10 (the setting's range)")
    if options.questions > options.servers * options.members_per_server:
        progress(
            f"note: {options.questions} questions for {options.servers * options.members_per_server} members: "
            "some members ask twice and their second question queues behind the first"
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
    message_id: int | None = None
    handed_at: float | None = None  # the bench called send_message
    sent_at: float | None = None  # the stand-in wrote the MESSAGE_CREATE frame


@dataclass
class Probes:
    """Times observed around the bot without changing what it does."""

    frames_sent: dict[int, float] = field(default_factory=dict)  # message id -> MESSAGE_CREATE frame written
    listener_at: dict[int, float] = field(default_factory=dict)  # message id -> discord.py ran on_message listeners
    stream_called: dict[str, list[float]] = field(default_factory=dict)  # tag -> pipeline called ModelClient.stream


def tag_of(messages: Sequence[Any]) -> str | None:
    """The question tag in the last user message of a chat-completions request."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content)
            found = TAG_RE.search(text)
            return found.group(0) if found else None
    return None


def answer_text(tag: str, tokens: int) -> str:
    """About `tokens` of the fake's token-ish pieces (words), starting with the tag."""
    words = [f"Answer {tag}:"]
    i = 0
    while len(" ".join(words).split()) < tokens:
        words.append(ANSWER_WORDS[i % len(ANSWER_WORDS)])
        i += 1
    return " ".join(words)


def observe_stream_calls(model: ModelClient, probes: Probes) -> None:
    """Note when the pipeline asks the bot's model client for a stream (by the question's tag); no other change."""
    original = model.stream

    async def stream(messages: Sequence[ChatCompletionMessageParam], stats: StreamStats) -> AsyncIterator[str]:
        tag = tag_of(messages)
        if tag is not None:
            probes.stream_called.setdefault(tag, []).append(time.monotonic())
        async for delta in original(messages, stats):
            yield delta

    setattr(model, "stream", stream)  # noqa: B010 (an instance attribute over the method)


def settings_for(standin: DiscordStandIn, model: FakeOpenAI, db: Path, options: Options) -> Settings:
    return load_settings(
        _env_file=None,
        discord_token=standin.token,
        discord_api_base=standin.api_base,
        discord_gateway_url=standin.gateway_url,
        guild_ready_timeout=0.05,
        database_path=db,
        pseudonym_key=PSEUDONYM_KEY,
        model_base_url=model.base_url,
        model_name="fake-model",
        model_max_retries=1,
        model_timeout_seconds=60,
        stream_edit_interval=options.edit_interval,
        shutdown_grace_seconds=10,
        log_level="WARNING",
    )


def build_bot(settings: Settings, probes: Probes) -> CultureBot:
    assert settings.model_base_url is not None
    assert settings.pseudonym_key is not None
    model = client_for(settings, str(settings.model_base_url), None, settings.model_name)
    observe_stream_calls(model, probes)
    bot = CultureBot(
        settings, model=model, pseudonyms=Pseudonymizer(settings.pseudonym_key.get_secret_value().encode())
    )

    async def on_message_probe(message: discord.Message) -> None:
        probes.listener_at.setdefault(message.id, time.monotonic())

    # Registered before the cogs load, so discord.py runs it just before the answers cog's listener.
    bot.add_listener(on_message_probe, "on_message")
    return bot


def watch_gateway(standin: DiscordStandIn, probes: Probes) -> None:
    """Note when each MESSAGE_CREATE frame has been written to the bot's websocket."""
    gateway = standin.core.gateway
    original = gateway._send_dispatch

    async def timed(session: Any, event: str, data: Any) -> None:
        await original(session, event, data)
        if event == "MESSAGE_CREATE":
            probes.frames_sent.setdefault(int(data["id"]), time.monotonic())

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
    """CPU of the event-loop thread (bot, stand-in, fake model and bench share it) and of the whole process."""

    def __init__(self) -> None:
        self.loop_thread = time.thread_time()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.process = usage.ru_utime + usage.ru_stime

    def used(self, wall_s: float) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        loop_thread = time.thread_time() - self.loop_thread
        process = usage.ru_utime + usage.ru_stime - self.process
        wall = max(wall_s, 1e-3)
        return {
            "wall_s": round(wall, 3),
            "loop_thread_cpu_s": round(loop_thread, 3),
            "process_cpu_s": round(process, 3),
            "loop_thread_busy": round(loop_thread / wall, 3),
            "process_cores": round(process / wall, 3),
        }


def rss_mb() -> float | None:
    """Resident set size now (Linux /proc), in MB."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment."""
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    best = current = 0
    for _, step in points:
        current += step
        best = max(best, current)
    return best


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


async def fire(standin: DiscordStandIn, questions: list[Asked], spread: float) -> float:
    """Send every question (at once, or evenly over `spread` seconds); returns the seconds sending took."""
    started = time.monotonic()

    async def send(asked: Asked) -> None:
        if spread and len(questions) > 1:
            await asyncio.sleep(max(0.0, started + spread * asked.index / (len(questions) - 1) - time.monotonic()))
        asked.handed_at = time.monotonic()
        message = await standin.send_message(asked.server.channel_id, asked.author_id, asked.text)
        asked.message_id = int(message["id"])

    await asyncio.gather(*(send(asked) for asked in questions))
    return time.monotonic() - started


def analyse(
    standin: DiscordStandIn,
    model: FakeOpenAI,
    db: Path,
    questions: list[Asked],
    probes: Probes,
    options: Options,
) -> dict[str, Any]:
    """Per-question latencies, and whether each question got exactly one complete answer."""
    requests_by_tag: dict[str, list[Any]] = {}
    for request in model.chat_requests:
        tag = tag_of(request.messages)
        if tag is not None:
            requests_by_tag.setdefault(tag, []).append(request)
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
        listener = probes.listener_at.get(mid)
        calls = probes.stream_called.get(asked.tag)
        called = calls[0] if calls else None
        if listener is not None and called is not None:
            gateway_to_listener.append((listener - sent) * 1000)
            listener_to_stream.append((called - listener) * 1000)
            stream_to_received.append((request.received_at - called) * 1000)
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
    return {
        "questions": len(questions),
        "answered_ok": len(questions) - len(problems["lost"]),
        **counts,
        "problem_examples": {name: items[:5] for name, items in problems.items() if items},
        "peak_questions_in_flight": max_overlap(in_flight),
        "overhead_ms": percentiles(overhead),
        "overhead_breakdown_ms": {
            "gateway_frame_to_on_message": percentiles(gateway_to_listener),
            "on_message_to_model_stream_call": percentiles(listener_to_stream),
            "model_stream_call_to_fake_received": percentiles(stream_to_received),
        },
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
    """aiohttp sites created meanwhile (the stand-in's and the fake model's) listen with `backlog`."""
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
async def make_world(options: Options) -> AsyncIterator[tuple[DiscordStandIn, FakeOpenAI, list[Server]]]:
    # Only the harness creates aiohttp sites in this process (the bot is a client), so the patch is left on.
    with harness_backlog(HARNESS_LISTEN_BACKLOG):
        async with DiscordStandIn(bot_username="culturebot") as standin, FakeOpenAI(model="fake-model") as model:
            servers = []
            for s in range(options.servers):
                guild = standin.add_guild(f"Bench server {s}")
                channel = standin.add_channel(guild["id"], "ask-the-bot")
                members = [
                    int(standin.add_member(guild["id"], f"member{s}-{m}")["user"]["id"])
                    for m in range(options.members_per_server)
                ]
                servers.append(Server(int(guild["id"]), int(channel["id"]), members))
            yield standin, model, servers


def plan_questions(servers: list[Server], options: Options, mention: str) -> list[Asked]:
    """Question i goes to server i mod S, asked by the next member there, so members rarely ask twice."""
    planned = []
    for i in range(options.questions):
        server = servers[i % len(servers)]
        member = server.members[(i // len(servers)) % len(server.members)]
        tag = f"bq{i:05d}"
        text = f"{mention} {QUESTIONS[i % len(QUESTIONS)]} (ref {tag})"
        planned.append(Asked(i, tag, server, member, text))
    return planned


async def run(options: Options) -> dict[str, Any]:
    run_started = time.monotonic()
    result: dict[str, Any] = {
        "benchmark": "answer_latency",
        "targets": {
            "overhead_p99_ms": TARGET_OVERHEAD_P99_MS,
            "first_visible_minus_ttft_p99_ms": TARGET_FIRST_VISIBLE_OVER_TTFT_P99_MS,
            "lost": 0,
            "duplicated": 0,
        },
        "config": {
            "servers": options.servers,
            "questions": options.questions,
            "members_per_server": options.members_per_server,
            "ttft_s": options.ttft,
            "tokens_per_second": options.tps,
            "answer_tokens": options.answer_tokens,
            "stream_edit_interval_s": options.edit_interval,
            "spread_s": options.spread,
            "warmup": options.warmup,
            "solo": options.solo,
            "quick": options.quick,
            "tracemalloc": options.tracemalloc,
            "profiled": options.profile,
            "harness_listen_backlog": HARNESS_LISTEN_BACKLOG,
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
    probes = Probes()
    with tempfile.TemporaryDirectory(prefix="culturebot-bench-") as tmp_name:
        db = Path(tmp_name) / "bot.sqlite3"
        async with make_world(options) as (standin, model, servers):
            mention = f"<@{standin.bot_user_id}>"
            watch_gateway(standin, probes)
            settings = settings_for(standin, model, db, options)
            started = time.monotonic()
            await prepare_database(db, servers)
            progress(f"setup: {len(servers)} servers with a scope, cooldown 0 ({time.monotonic() - started:.1f}s)")

            def responder(body: dict[str, Any]) -> Reply:
                tag = tag_of(body.get("messages") or []) or "untagged"
                text = answer_text(tag, options.answer_tokens)
                if tag.startswith("wu"):
                    return Reply(text)  # warm-up: at once
                return Reply(text, ttft=options.ttft, tokens_per_second=options.tps)

            model.default_reply = responder
            bot = build_bot(settings, probes)
            async with connected(bot, standin, timeout=60):
                progress(f"setup: bot connected to {len(bot.guilds)} servers")
                result["warmup"] = await warm_up(standin, db, servers, options, mention)
                solo: dict[str, Any] | None = None
                if options.solo:
                    alone = await ask_alone(standin, db, servers, options, mention)
                    await asyncio.sleep(0.2)
                    solo = analyse(standin, model, db, alone, probes, options)
                    progress(
                        f"alone: {len(alone)} questions one at a time: overhead p50 {solo['overhead_ms']['p50']} ms, "
                        f"max {solo['overhead_ms']['max']} ms; first visible - ttft p50 "
                        f"{solo['first_visible_minus_ttft_ms']['p50']} ms"
                    )
                questions = plan_questions(servers, options, mention)
                baseline_rss = rss_mb()
                if options.tracemalloc:
                    tracemalloc.start()
                pace = "all at once" if not options.spread else f"over {options.spread:g}s"
                progress(
                    f"burst: {len(questions)} questions in {len(servers)} servers {pace}; model ttft "
                    f"{options.ttft:g}s, {options.tps:g} tokens/s, {options.answer_tokens} tokens per answer"
                )
                overflows_before = listen_overflows()
                with profiled(options.profile, options.profile_out, progress):
                    cpu = CpuMeter()
                    burst_started = time.monotonic()
                    send_s = await fire(standin, questions, options.spread)
                    progress(f"burst: all sent in {send_s * 1000:.0f} ms; waiting for the answers")
                    ids = [q.message_id for q in questions if q.message_id is not None]
                    settled = await wait_for_answers(db, ids, limit_s=options.settle_timeout, what="burst")
                    burst_s = time.monotonic() - burst_started
                    used = cpu.used(burst_s)
                overflows_after = listen_overflows()
                traced_peak = None
                if options.tracemalloc:
                    traced_peak = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
                    tracemalloc.stop()
                # The bot adds its rating reactions after the final edit and closes the record last; give the
                # stand-in a moment to have stored everything before reading it.
                await asyncio.sleep(0.2)
                analysis = analyse(standin, model, db, questions, probes, options)
            progress("bot closed")
    if solo is not None:
        keys = ("questions", "lost", "duplicated", "incomplete_text", "overhead_ms", "overhead_breakdown_ms")
        result["alone"] = {k: solo[k] for k in keys} | {
            "first_visible_minus_ttft_ms": solo["first_visible_minus_ttft_ms"],
            "first_visible_breakdown_ms": solo["first_visible_breakdown_ms"],
        }
    result["burst"] = {
        "send_s": round(send_s, 4),
        "elapsed_s": round(burst_s, 3),
        "settled": settled,
        "cpu": used,
        # Connections the kernel dropped on a full listen queue (machine-wide): each costs a 1 s SYN retry.
        "tcp_listen_overflows": None
        if overflows_before is None or overflows_after is None
        else overflows_after - overflows_before,
        **analysis,
    }
    result["memory"] = {
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_burst_mb": baseline_rss,
        "tracemalloc_peak_during_burst_mb": traced_peak,
        "note": "one process: the bot, the Discord stand-in and the fake model together",
    }
    result["environment"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_s"] = round(time.monotonic() - run_started, 2)
    overhead_p99 = analysis["overhead_ms"]["p99"]
    visible_p99 = analysis["first_visible_minus_ttft_ms"]["p99"]
    checks = {
        "overhead": overhead_p99 is not None and overhead_p99 <= TARGET_OVERHEAD_P99_MS,
        "first_visible": visible_p99 is not None and visible_p99 <= TARGET_FIRST_VISIBLE_OVER_TTFT_P99_MS,
        "no_loss": settled and analysis["lost"] == 0 and analysis["no_timing"] == 0,
        "no_duplicates": analysis["duplicated"] == 0 and analysis["extra_model_requests"] == 0,
        "complete_text": analysis["incomplete_text"] == 0 and analysis["not_ok"] == 0,
    }
    result["summary"] = {
        "overhead_p99_ms": overhead_p99,
        "first_visible_minus_ttft_p99_ms": visible_p99,
        "lost": analysis["lost"],
        "duplicated": analysis["duplicated"],
        "peak_rss_mb": result["memory"]["peak_rss_mb"],
        # For comparison, not a target: the same figures for questions asked one at a time.
        "alone_overhead_p99_ms": solo["overhead_ms"]["p99"] if solo else None,
        "alone_first_visible_minus_ttft_p99_ms": solo["first_visible_minus_ttft_ms"]["p99"] if solo else None,
        "checks": checks,
        "target_met": all(checks.values()),
    }
    progress(
        f"overhead p99 {overhead_p99} ms (target {TARGET_OVERHEAD_P99_MS:g}), first visible - ttft p99 "
        f"{visible_p99} ms (target {TARGET_FIRST_VISIBLE_OVER_TTFT_P99_MS:g}), lost {analysis['lost']}, "
        f"duplicated {analysis['duplicated']}, peak RSS {result['memory']['peak_rss_mb']} MB"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    return run_benchmark("answer_latency", run(options), options.timeout)


if __name__ == "__main__":
    sys.exit(main())
