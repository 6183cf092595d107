"""Feedback ingestion: rating reactions and rating-button clicks through the stand-in's gateway, end to end.

The whole bot (`CultureBot`) runs in this process against `DiscordStandIn` (real websocket, real discord.py)
and `FakeOpenAI`, with its SQLite database in a temporary directory. Setup: one guild and channel, N members
who consented (plus about 1% who declined), M answers made by real questions through the stand-in.

Phase 1, "reactions" (the throughput figure): E `MESSAGE_REACTION_ADD` events, in the payload shape the
stand-in itself produces (taken from one real `standin.add_reaction`), dispatched through its gateway as fast
as it sends them (or at `--rate`): new ratings, changed ratings, exact redeliveries of recent events, emojis
that are not ratings, and ratings by members who declined. The bench computes the final table independently
(the last rating per member per answer, nothing for those who declined), waits until the `ratings` table
holds as many rows with the same sum, then compares every row: value, source and is_asker.

Phase 2, "reactions_paced" (the latency figure): more reaction events offered at the target rate, 1,000/s.

Phase 3, "buttons": C clicks of the rating buttons under the answers (INTERACTION_CREATE, each answered by the
bot over REST), by concurrent members; a member's clicks are sequential, as a person's are.

Throughput is measured from the first event sent to the last rating committed (the rows' `updated_at`, a
SQLite wall-clock timestamp in milliseconds); latency per rating is that commit time minus the send time of
the event that set the final value; click latency is the stand-in's own record (dispatch to response).
`cpu` per phase tells whether the event loop was saturated (`loop_thread_busy` near 1.0) or waiting.
Prints one JSON object on stdout; progress goes to stderr. Exit status 0 when nothing was lost or
double-counted and the burst phase met 1,000 events/s, 1 otherwise.

    .venv/bin/python -m bench.feedback_ingest            # full run (2,000 members, 50 answers, 20,000 events)
    .venv/bin/python -m bench.feedback_ingest --quick    # smoke run, a few seconds
    .venv/bin/python -m bench.feedback_ingest --profile cprofile   # also profile the reaction phase
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import platform
import random
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord

from bench.common import percentiles, profiled, read_db, run_benchmark
from bot.config import Settings, load_settings
from bot.feedback.consent import consent_version
from bot.feedback.scales import FIT3
from bot.llm.client import ModelClient
from bot.pseudonyms import Pseudonymizer
from bot.runtime import CultureBot
from bot.sandbox.discord import DiscordStandIn, InteractionRecord
from bot.sandbox.discord.testing import connected
from bot.sandbox.fake_openai import FakeOpenAI, Reply
from bot.scopes.manage import store_document
from bot.scopes.templates import load_template
from bot.storage import ConsentLevel, ScopeSource, SqliteStorage

TARGET_EVENTS_PER_S = 1000.0
PSEUDONYM_KEY = "bench-" + "k" * 26
SCOPE_TEMPLATE = "indonesian-business-jakarta"
MODERATOR_ID = 42
NOT_A_RATING = "👍"
SEED = 20240605


def progress(message: str) -> None:
    print(f"[feedback_ingest {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    members: int
    answers: int
    events: int
    clicks: int
    declined_fraction: float
    duplicate_fraction: float
    change_fraction: float
    noise_fraction: float
    window: int
    rate: float
    paced_events: int
    paced_rate: float
    click_workers: int
    ask_concurrency: int
    settle_timeout: float
    timeout: float
    seed: int
    quick: bool
    profile: str | None
    profile_out: Path | None


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.feedback_ingest",
        description="Reaction and button feedback ingested through the Discord stand-in's gateway (prints JSON).",
    )
    parser.add_argument("--members", type=int, default=None, help="members who consented (default 2000; quick 200)")
    parser.add_argument(
        "--answers", type=int, default=None, help="answers to rate, asked for real (default 50; quick 5)"
    )
    parser.add_argument("--events", type=int, default=None, help="reaction events (default 20000; quick 2000)")
    parser.add_argument(
        "--clicks", type=int, default=None, help="rating button clicks (default 2000; quick 200; 0 skips)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--declined", type=float, default=0.01, help="fraction of extra members who declined (0.01)")
    parser.add_argument("--duplicates", type=float, default=0.10, help="share of events that redeliver an earlier one")
    parser.add_argument("--changes", type=float, default=0.15, help="share of events that change a member's rating")
    parser.add_argument("--noise", type=float, default=0.02, help="share of events with an emoji that is not a rating")
    parser.add_argument("--window", type=int, default=256, help="gateway dispatches in flight at once (default 256)")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="pace the burst phase at this many events/s (0: flat out)"
    )
    parser.add_argument(
        "--paced-events",
        type=int,
        default=None,
        help="reaction events sent at --paced-rate (default 5000; quick 1000; 0 skips)",
    )
    parser.add_argument(
        "--paced-rate", type=float, default=TARGET_EVENTS_PER_S, help="offered rate of the paced phase (target: 1000/s)"
    )
    parser.add_argument("--click-workers", type=int, default=32, help="members clicking at the same time (32)")
    parser.add_argument("--ask-concurrency", type=int, default=10, help="questions in flight during setup (10)")
    parser.add_argument(
        "--settle-timeout", type=float, default=60.0, help="seconds to wait for the database after sending"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="hard limit for the whole run, seconds (900)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--profile", choices=("cprofile", "pyinstrument"), default=None, help="profile the reaction phase (stderr)"
    )
    parser.add_argument("--profile-out", type=Path, default=None, help="also save the profile here (.pstats or .html)")
    args = parser.parse_args(argv)
    quick = bool(args.quick)

    def size(value: int | None, full: int, small: int) -> int:
        return value if value is not None else (small if quick else full)

    options = Options(
        members=size(args.members, 2000, 200),
        answers=size(args.answers, 50, 5),
        events=size(args.events, 20_000, 2000),
        clicks=size(args.clicks, 2000, 200),
        declined_fraction=args.declined,
        duplicate_fraction=args.duplicates,
        change_fraction=args.changes,
        noise_fraction=args.noise,
        window=max(1, args.window),
        rate=max(0.0, args.rate),
        paced_events=size(args.paced_events, 5000, 1000),
        paced_rate=max(1.0, args.paced_rate),
        click_workers=max(1, args.click_workers),
        ask_concurrency=max(1, args.ask_concurrency),
        settle_timeout=args.settle_timeout,
        timeout=args.timeout,
        seed=args.seed,
        quick=quick,
        profile=args.profile,
        profile_out=args.profile_out,
    )
    if options.members < 2 or options.answers < 1 or options.events < 1:
        parser.error("need at least 2 members, 1 answer and 1 event")
    return options


# ---------------------------------------------------------------------------------------------- the world


@dataclass
class Answer:
    answer_id: int
    message_id: int  # the message carrying the rating reactions and buttons (the answer's last part)
    asker_id: int
    buttons: dict[int, str]  # rating value -> custom id


@dataclass
class World:
    standin: DiscordStandIn
    model: FakeOpenAI
    tmp: Path
    guild_id: int
    channel_id: int
    consented: list[int]
    declined: list[int]
    warmup_member: int
    pseudonyms: Pseudonymizer
    answers: list[Answer] = field(default_factory=list)
    declined_set: set[int] = field(init=False)

    def __post_init__(self) -> None:
        self.declined_set = set(self.declined)

    @property
    def db(self) -> Path:
        return self.tmp / "bot.sqlite3"

    def settings(self) -> Settings:
        return load_settings(
            _env_file=None,
            discord_token=self.standin.token,
            discord_api_base=self.standin.api_base,
            discord_gateway_url=self.standin.gateway_url,
            guild_ready_timeout=0.05,
            database_path=self.db,
            pseudonym_key=PSEUDONYM_KEY,
            model_base_url=self.model.base_url,
            model_name="fake-model",
            model_max_retries=1,
            model_timeout_seconds=10,
            stream_edit_interval=0.2,
            shutdown_grace_seconds=5,
            log_level="WARNING",
        )

    def mention(self, text: str) -> str:
        return f"<@{self.standin.bot_user_id}> {text}"


def build_bot(settings: Settings) -> CultureBot:
    assert settings.model_base_url is not None
    assert settings.pseudonym_key is not None
    model = ModelClient(
        base_url=str(settings.model_base_url),
        api_key=None,
        model=settings.model_name,
        timeout=settings.model_timeout_seconds,
        max_retries=settings.model_max_retries,
        max_tokens=settings.model_max_tokens,
        temperature=settings.model_temperature,
    )
    return CultureBot(
        settings, model=model, pseudonyms=Pseudonymizer(settings.pseudonym_key.get_secret_value().encode())
    )


async def prepare_database(world: World, settings: Settings) -> None:
    """A scope (so questions are answered) and every member's consent decision, as the consent buttons store it."""
    storage = await SqliteStorage.open(world.db)
    try:
        await storage.migrate()
        document = load_template(SCOPE_TEMPLATE)
        await store_document(storage, world.guild_id, MODERATOR_ID, document, ScopeSource.TEMPLATE, "benchmark")
        version = consent_version(await storage.guild_settings(world.guild_id))
        for user_id in [*world.consented, world.warmup_member]:
            member = world.pseudonyms.member(user_id)
            await storage.set_consent(world.guild_id, member, ConsentLevel.RATINGS, version)
        for user_id in world.declined:
            await storage.set_consent(world.guild_id, world.pseudonyms.member(user_id), ConsentLevel.DECLINED, version)
    finally:
        await storage.close()


async def poll_db(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return await asyncio.to_thread(read_db, db, sql, params)


async def wait_until(check: Callable[[], Awaitable[Any]], *, limit_s: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + limit_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {limit_s:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


async def ask_questions(world: World, options: Options, rng: random.Random) -> float:
    """Members ask M questions through the stand-in; the fake model answers; returns the seconds it took."""
    started = time.monotonic()
    askers = rng.sample(world.consented, min(options.answers, len(world.consented)))
    askers += [rng.choice(world.consented) for _ in range(options.answers - len(askers))]
    world.model.script(
        *[
            Reply(f"Answer {i}: use Pak or Bu with the first name; it varies by company.")
            for i in range(options.answers)
        ]
    )
    questions: dict[int, int] = {}  # question message id -> asker
    semaphore = asyncio.Semaphore(options.ask_concurrency)

    async def ask(index: int, asker: int) -> None:
        async with semaphore:
            message = await world.standin.send_message(
                world.channel_id, asker, world.mention(f"Question {index}: how do I address my manager?")
            )
            questions[int(message["id"])] = asker

            async def finished() -> bool:
                rows = await poll_db(
                    world.db,
                    "SELECT outcome FROM answers WHERE question_message_id = ? AND outcome != 'streaming'",
                    (int(message["id"]),),
                )
                return bool(rows)

            await wait_until(finished, limit_s=30, what=f"the answer to question {index}")

    await asyncio.gather(*(ask(i, asker) for i, asker in enumerate(askers)))
    rows = await poll_db(
        world.db,
        "SELECT a.answer_id, a.question_message_id, a.outcome, m.message_id FROM answers a "
        "JOIN answer_messages m USING (answer_id) "
        "WHERE m.part = (SELECT max(part) FROM answer_messages WHERE answer_id = a.answer_id) ORDER BY a.answer_id",
    )
    for answer_id, question_id, outcome, message_id in rows:
        if outcome != "ok":
            raise RuntimeError(f"answer {answer_id} ended {outcome!r}; the benchmark needs complete answers")
        message = world.standin.message(message_id)
        buttons = {
            int(c["custom_id"].rsplit(":", 1)[1]): c["custom_id"]
            for row in message.components
            for c in row["components"]
            if str(c.get("custom_id", "")).startswith("cb:rate:")
        }
        world.answers.append(Answer(int(answer_id), int(message_id), questions[int(question_id)], buttons))
    if len(world.answers) != options.answers:
        raise RuntimeError(f"expected {options.answers} answers, found {len(world.answers)}")

    # The bot adds its rating reactions before it closes the record; wait until the stand-in has them all.
    def reacted() -> bool:
        return all(len(world.standin.message(a.message_id).reactions) >= FIT3.size for a in world.answers)

    await world.standin.wait_for(reacted, timeout=30, what="the bot's rating reactions")
    return time.monotonic() - started


# ---------------------------------------------------------------------------------------------- events


@dataclass
class Event:
    """One injected gateway event: a member's reaction or button click."""

    kind: str  # fresh | change | duplicate | noise | declined | click
    user_id: int
    answer: int  # index into World.answers
    emoji: str
    value: int | None  # the rating it stands for; None for an emoji that is not a rating
    payload: dict[str, Any] | None = None  # the exact gateway payload (a redelivery reuses its original's)
    sent_at: float = 0.0  # wall clock, when handed to the stand-in


class Planner:
    """A reproducible mix of reaction events; successive batches continue the same members' histories."""

    def __init__(self, world: World, options: Options, rng: random.Random) -> None:
        self.world = world
        self.options = options
        self.rng = rng
        self.everyone = world.consented + world.declined
        self.declined = world.declined_set
        self.used: set[tuple[int, int]] = set()  # (member, answer) pairs reacted to so far
        self.rated: list[tuple[int, int]] = []  # pairs of consenting members with a rating
        self.current: dict[tuple[int, int], str] = {}  # pair -> the rating emoji it has now
        self.history: list[Event] = []

    def _fresh_pair(self) -> tuple[int, int]:
        n_answers = len(self.world.answers)
        if len(self.used) >= len(self.everyone) * n_answers * 0.9:  # nearly every pair used: reuse one
            return self.rng.choice(self.everyone), self.rng.randrange(n_answers)
        while True:
            pair = (self.rng.choice(self.everyone), self.rng.randrange(n_answers))
            if pair not in self.used:
                self.used.add(pair)
                return pair

    def plan(self, count: int) -> list[Event]:
        """`count` events; the last one is always a new rating, so its commit marks the end of the batch."""
        rng, options = self.rng, self.options
        events: list[Event] = []
        for index in range(count):
            last = index == count - 1
            roll = rng.random()
            if not last and self.history and roll < options.duplicate_fraction:
                # A redelivery (as after a gateway resume) of a recent event: the very same payload.
                original = self.history[rng.randrange(max(0, len(self.history) - 500), len(self.history))]
                event = Event("duplicate", original.user_id, original.answer, original.emoji, original.value)
                event.payload = original.payload
                if original.value is not None and original.user_id not in self.declined:
                    self.current[(original.user_id, original.answer)] = original.emoji
            elif not last and self.rated and roll < options.duplicate_fraction + options.change_fraction:
                user_id, answer = rng.choice(self.rated)
                emoji = rng.choice([e for e in FIT3.emojis if e != self.current[(user_id, answer)]])
                self.current[(user_id, answer)] = emoji
                event = Event("change", user_id, answer, emoji, FIT3.value_of(emoji))
            else:
                user_id, answer = self._fresh_pair()
                noise = options.duplicate_fraction + options.change_fraction + options.noise_fraction
                while last and user_id in self.declined:
                    user_id, answer = self._fresh_pair()
                if not last and roll < noise:
                    event = Event("noise", user_id, answer, NOT_A_RATING, None)
                else:
                    held = self.current.get((user_id, answer))
                    emoji = rng.choice([e for e in FIT3.emojis if e != held])  # differs, so it is written
                    if user_id in self.declined:
                        event = Event("declined", user_id, answer, emoji, FIT3.value_of(emoji))
                    else:
                        if (user_id, answer) not in self.current:
                            self.rated.append((user_id, answer))
                        self.current[(user_id, answer)] = emoji
                        event = Event("fresh", user_id, answer, emoji, FIT3.value_of(emoji))
            events.append(event)
            self.history.append(event)
        return events


@dataclass
class Expected:
    """The ratings table as it must be, computed from the injected events alone."""

    value: dict[tuple[int, int], int] = field(default_factory=dict)  # (answer_id, member) -> value
    source: dict[tuple[int, int], str] = field(default_factory=dict)
    is_asker: dict[tuple[int, int], bool] = field(default_factory=dict)
    setter: dict[tuple[int, int], Event] = field(default_factory=dict)  # the event that wrote the final value

    def apply(self, world: World, event: Event, source: str) -> None:
        if event.value is None or event.user_id in world.declined_set:
            return
        answer = world.answers[event.answer]
        key = (answer.answer_id, event.user_id)
        if key not in self.value:
            self.is_asker[key] = event.user_id == answer.asker_id
        if self.value.get(key) != event.value or self.source.get(key) != source:
            self.setter[key] = event  # put_rating rewrites the row only when value or source changes
        self.value[key] = event.value
        self.source[key] = source


class ReactionPayloads:
    """Builds MESSAGE_REACTION_ADD payloads from one the stand-in produced for a real reaction."""

    def __init__(self, world: World, template: dict[str, Any]) -> None:
        self.world = world
        self.template = {k: v for k, v in template.items() if k not in ("user_id", "message_id", "emoji", "member")}
        self.members: dict[int, dict[str, Any]] = {}

    def build(self, event: Event) -> dict[str, Any]:
        member = self.members.get(event.user_id)
        if member is None:
            member = self.world.standin.state.member_payload(self.world.guild_id, event.user_id)
            self.members[event.user_id] = member
        return self.template | {
            "user_id": str(event.user_id),
            "message_id": str(self.world.answers[event.answer].message_id),
            "emoji": {"id": None, "name": event.emoji},
            "member": member,
        }


async def warm_up(world: World, expected: Expected) -> dict[str, Any]:
    """One real reaction through `standin.add_reaction`; returns the payload the stand-in dispatched for it."""
    answer = world.answers[0]
    await world.standin.add_reaction(world.channel_id, answer.message_id, world.warmup_member, "✅")
    expected.apply(world, Event("warm-up", world.warmup_member, 0, "✅", FIT3.value_of("✅")), "reaction")
    member = world.pseudonyms.member(world.warmup_member)

    async def stored() -> bool:
        rows = await poll_db(
            world.db, "SELECT value FROM ratings WHERE answer_id = ? AND rater_hash = ?", (answer.answer_id, member)
        )
        return bool(rows)

    await wait_until(stored, limit_s=10, what="the warm-up rating")
    [event] = [e for e in world.standin.events("MESSAGE_REACTION_ADD") if int(e.data["user_id"]) == world.warmup_member]
    return dict(event.data)


# ---------------------------------------------------------------------------------------------- measuring


def parse_sqlite_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


@dataclass
class Comparison:
    expected: int
    matched: int
    missing: int
    wrong_value: int
    wrong_source: int
    wrong_is_asker: int
    unexpected_rows: int
    duplicate_rows: int
    rows: list[tuple[int, str, int, int, str, str]]

    @property
    def lost(self) -> int:
        return self.expected - self.matched

    @property
    def double_counted(self) -> int:
        return self.unexpected_rows + self.duplicate_rows

    def summary(self) -> dict[str, int]:
        return {
            "expected_ratings": self.expected,
            "rows": len(self.rows),
            "matched": self.matched,
            "missing": self.missing,
            "wrong_value": self.wrong_value,
            "wrong_source": self.wrong_source,
            "wrong_is_asker": self.wrong_is_asker,
            "unexpected_rows": self.unexpected_rows,
            "duplicate_rows": self.duplicate_rows,
            "lost": self.lost,
            "double_counted": self.double_counted,
        }


def compare(world: World, expected: Expected) -> Comparison:
    """Every row of `ratings` against the expected table."""
    rows = [
        (int(r[0]), str(r[1]), int(r[2]), int(r[3]), str(r[4]), str(r[5]))
        for r in read_db(world.db, "SELECT answer_id, rater_hash, value, is_asker, source, updated_at FROM ratings")
    ]
    by_hash = {world.pseudonyms.member(u): u for u in [*world.consented, *world.declined, world.warmup_member]}
    seen: dict[tuple[int, int], int] = {}
    matched = wrong_value = wrong_source = wrong_is_asker = unexpected = duplicates = 0
    for answer_id, rater_hash, value, is_asker, source, _ in rows:
        user_id = by_hash.get(rater_hash)
        key = (answer_id, user_id if user_id is not None else -1)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            duplicates += 1
            continue
        if key not in expected.value:
            unexpected += 1
            continue
        ok = True
        if value != expected.value[key]:
            wrong_value += 1
            ok = False
        if source != expected.source[key]:
            wrong_source += 1
            ok = False
        if bool(is_asker) != expected.is_asker[key]:
            wrong_is_asker += 1
            ok = False
        matched += ok
    missing = sum(1 for key in expected.value if key not in seen)
    return Comparison(
        len(expected.value), matched, missing, wrong_value, wrong_source, wrong_is_asker, unexpected, duplicates, rows
    )


@dataclass
class Settled:
    reached: bool
    seen_at: float  # monotonic time the poll saw the expected table (or gave up)


async def wait_for_table(world: World, expected: Expected, *, limit_s: float, what: str) -> Settled:
    """Poll (on a reader connection of our own) until `ratings` holds the expected number and sum of ratings.

    Gives up after `limit_s`, or after 30 s without any change once rows have started changing. Under a burst
    the bot may commit nothing for many seconds and then everything, so silence alone is not failure.
    """
    want_count = len(expected.value)
    want_sum = sum(expected.value.values())
    first: tuple[Any, ...] | None = None
    last_state: tuple[Any, ...] | None = None
    last_change = time.monotonic()
    deadline = time.monotonic() + limit_s
    while True:
        [row] = await poll_db(world.db, "SELECT count(*), total(value), max(updated_at) FROM ratings")
        count, total = int(row[0]), int(row[1])
        if count == want_count and total == want_sum:
            return Settled(True, time.monotonic())
        now = time.monotonic()
        if first is None:
            first = row
        if row != last_state:
            last_state, last_change = row, now
        if now > deadline or (row != first and now - last_change > 30):
            progress(f"{what}: gave up waiting (rows {count}/{want_count}, value sum {total:.0f}/{want_sum})")
            return Settled(False, now)
        await asyncio.sleep(0.05)


class CpuMeter:
    """CPU spent by the event-loop thread (bot, stand-in and bench share it) and by the whole process
    (adds the aiosqlite worker threads) since creation, against the wall time of a phase."""

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
            "loop_thread_busy": round(loop_thread / wall, 3),  # 1.0: the event loop never waited
            "process_cores": round(process / wall, 3),
        }


# ---------------------------------------------------------------------------------------------- phases


@dataclass
class Sent:
    first_sent: float  # wall clock
    started: float  # monotonic
    send_s: float


async def inject(world: World, events: list[Event], *, window: int, rate: float) -> Sent:
    """Dispatch the events through the stand-in's gateway in order, `window` at a time, paced at `rate`/s if set."""
    slots = asyncio.Semaphore(window)
    outstanding: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []

    def finished(task: asyncio.Task[None]) -> None:
        outstanding.discard(task)
        slots.release()
        if not task.cancelled() and (exc := task.exception()) is not None:
            failures.append(exc)

    first_sent = time.time()
    started = time.monotonic()
    for index, event in enumerate(events):
        if rate:
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await slots.acquire()
        assert event.payload is not None
        event.sent_at = time.time()
        # Tasks start in creation order, so the stand-in queues (and numbers) the events in this order.
        task = asyncio.ensure_future(world.standin.dispatch("MESSAGE_REACTION_ADD", event.payload))
        outstanding.add(task)
        task.add_done_callback(finished)
    if outstanding:
        await asyncio.wait(set(outstanding))
    if failures:
        raise RuntimeError(f"{len(failures)} gateway dispatches failed, the first: {failures[0]!r}")
    return Sent(first_sent, started, time.monotonic() - started)


def commit_times(world: World, rows: list[tuple[int, str, int, int, str, str]]) -> dict[tuple[int, int], float]:
    """(answer id, member) -> when its row was last written (SQLite's wall clock, milliseconds)."""
    by_hash = {world.pseudonyms.member(u): u for u in [*world.consented, *world.declined, world.warmup_member]}
    return {
        (answer_id, by_hash.get(rater_hash, -1)): parse_sqlite_time(updated)
        for answer_id, rater_hash, *_, updated in rows
    }


def phase_timing(
    world: World, expected: Expected, events: list[Event], rows: list[tuple[int, str, int, int, str, str]]
) -> tuple[float | None, float | None, list[float]]:
    """(first commit, last commit, latencies in ms) of the ratings whose final value an event in `events` set."""
    ours = {id(event) for event in events}
    written = commit_times(world, rows)
    commits: list[float] = []
    latencies: list[float] = []
    for key, event in expected.setter.items():
        if id(event) not in ours or key not in written:
            continue
        commits.append(written[key])
        latencies.append((written[key] - event.sent_at) * 1000)
    if not commits:
        return None, None, latencies
    return min(commits), max(commits), latencies


async def reaction_phase(
    world: World,
    options: Options,
    expected: Expected,
    planner: Planner,
    payloads: ReactionPayloads,
    *,
    name: str,
    count: int,
    rate: float,
    profile: bool = False,
) -> dict[str, Any]:
    events = planner.plan(count)
    for event in events:
        if event.payload is None:
            event.payload = payloads.build(event)
    kinds = {
        kind: sum(1 for e in events if e.kind == kind) for kind in ("fresh", "change", "duplicate", "noise", "declined")
    }
    pace = f"{rate:,.0f}/s" if rate else "as fast as the stand-in sends"
    progress(f"{name}: sending {len(events)} reaction events {kinds}, {pace}")
    with profiled(options.profile if profile else None, options.profile_out, progress):
        cpu = CpuMeter()
        sent = await inject(world, events, window=options.window, rate=rate)
        progress(
            f"{name}: all sent in {sent.send_s:.2f}s ({len(events) / sent.send_s:,.0f}/s); waiting for the database"
        )
        for event in events:
            expected.apply(world, event, "reaction")
        settled = await wait_for_table(world, expected, limit_s=options.settle_timeout + len(events) / 100, what=name)
        used = cpu.used(settled.seen_at - sent.started)
    result = await asyncio.to_thread(compare, world, expected)
    first_commit, last_commit, latencies = phase_timing(world, expected, events, result.rows)
    elapsed = (last_commit - sent.first_sent) if last_commit is not None else settled.seen_at - sent.started
    elapsed = max(elapsed, 1e-3)
    progress(
        f"{name}: {len(events)} events in {elapsed:.2f}s = {len(events) / elapsed:,.0f}/s; "
        f"lost {result.lost}, double-counted {result.double_counted}"
    )
    return {
        "events": len(events),
        "mix": kinds,
        "offered_rate_per_s": rate or None,
        "send_s": round(sent.send_s, 3),
        "send_rate_per_s": round(len(events) / sent.send_s, 1),
        "elapsed_s": round(elapsed, 3),
        "events_per_s": round(len(events) / elapsed, 1),
        "cpu": used,
        "first_commit_after_s": None if first_commit is None else round(first_commit - sent.first_sent, 3),
        "settled": settled.reached,
        "settled_seen_after_s": round(settled.seen_at - sent.started, 3),
        **result.summary(),
        "latency_ms": percentiles(latencies),
    }


class ResponseWatcher:
    """One poller for every click awaiting the bot's response.

    `standin.wait_for_interaction_response` wakes every waiter on every change in the stand-in and polls each
    every 20 ms; with dozens of members clicking, that costs the shared event loop more than the bot's own
    work. Latency is read from the stand-in's own record times, so the poll interval does not enter it.
    """

    def __init__(self, standin: DiscordStandIn, interval: float = 0.002) -> None:
        self.standin = standin
        self.interval = interval
        self.waiting: dict[int, asyncio.Future[InteractionRecord]] = {}

    async def response(self, interaction_id: int, *, limit_s: float) -> InteractionRecord:
        future: asyncio.Future[InteractionRecord] = asyncio.get_running_loop().create_future()
        self.waiting[interaction_id] = future
        try:
            return await asyncio.wait_for(future, limit_s)
        finally:
            self.waiting.pop(interaction_id, None)

    async def _poll(self) -> None:
        while True:
            for interaction_id, future in list(self.waiting.items()):
                record = self.standin.interaction(interaction_id)
                if record.responded and not future.done():
                    future.set_result(record)
            await asyncio.sleep(self.interval)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        poller = asyncio.create_task(self._poll(), name="bench-response-watcher")
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller


async def button_phase(world: World, options: Options, expected: Expected, rng: random.Random) -> dict[str, Any]:
    """Members click rating buttons, each member's clicks one after another, `click_workers` members at once."""
    workers = min(options.click_workers, len(world.consented))
    clickers = list(world.consented)
    rng.shuffle(clickers)
    # A worker clicks for its own members only, so one member's clicks are never concurrent (as a person's).
    own = [clickers[i::workers] for i in range(workers)]
    queues: list[list[Event]] = [[] for _ in range(workers)]
    plan: list[Event] = []
    for _ in range(options.clicks):
        worker = rng.randrange(workers)
        value = rng.choice([option.value for option in FIT3.options])
        event = Event("click", rng.choice(own[worker]), rng.randrange(len(world.answers)), "", value)
        queues[worker].append(event)
        plan.append(event)
    interaction_ids: list[int] = []
    errors: list[str] = []

    async def click(queue: list[Event]) -> None:
        for event in queue:
            answer = world.answers[event.answer]
            assert event.value is not None
            event.sent_at = time.time()
            interaction_id = await world.standin.click_button(
                world.channel_id, answer.message_id, event.user_id, answer.buttons[event.value]
            )
            interaction_ids.append(interaction_id)
            try:
                record = await watcher.response(interaction_id, limit_s=10)
            except TimeoutError:
                errors.append(f"no response to interaction {interaction_id}")
                continue
            content = str((record.response_data or {}).get("content", ""))
            if "you rated this answer" not in content:
                errors.append(f"unexpected response: {content[:120]!r}")

    progress(f"buttons: {len(plan)} clicks by {workers} members clicking at the same time")
    watcher = ResponseWatcher(world.standin)
    cpu = CpuMeter()
    first_sent = time.time()
    started = time.monotonic()
    async with watcher.running():
        await asyncio.gather(*(click(queue) for queue in queues))
    responses_s = time.monotonic() - started
    # One member's clicks are sequential, so applying all clicks in send order gives each member's last one.
    for event in sorted(plan, key=lambda e: e.sent_at):
        expected.apply(world, event, "button")
    settled = await wait_for_table(world, expected, limit_s=options.settle_timeout, what="buttons")
    used = cpu.used(settled.seen_at - started)
    result = await asyncio.to_thread(compare, world, expected)
    _, last_commit, _ = phase_timing(world, expected, plan, result.rows)
    last = max(last_commit or 0.0, first_sent + responses_s)
    elapsed = max(last - first_sent, 1e-3)
    interactions = [world.standin.interaction(i) for i in interaction_ids]
    latencies = [(r.responded_at - r.created) * 1000 for r in interactions if r.responded_at is not None]
    progress(
        f"buttons: {len(plan)} clicks in {elapsed:.2f}s = {len(plan) / elapsed:,.0f}/s; {len(errors)} errors; "
        f"lost {result.lost}, double-counted {result.double_counted}"
    )
    return {
        "clicks": len(plan),
        "concurrent_members": workers,
        "elapsed_s": round(elapsed, 3),
        "clicks_per_s": round(len(plan) / elapsed, 1),
        "cpu": used,
        "responded": sum(1 for r in interactions if r.responded),
        "errors": len(errors),
        "first_errors": errors[:5],
        "settled": settled.reached,
        **result.summary(),
        "latency_ms": percentiles(latencies),
    }


# ---------------------------------------------------------------------------------------------- main


@contextlib.asynccontextmanager
async def make_world(options: Options, tmp: Path) -> AsyncIterator[World]:
    async with DiscordStandIn(bot_username="culturebot") as standin, FakeOpenAI(model="fake-model") as model:
        guild = standin.add_guild("Bench guild")
        channel = standin.add_channel(guild["id"], "ask-the-bot")
        consented = [int(standin.add_member(guild["id"], f"member{i}")["user"]["id"]) for i in range(options.members)]
        n_declined = max(1, round(options.members * options.declined_fraction)) if options.declined_fraction else 0
        declined = [int(standin.add_member(guild["id"], f"declined{i}")["user"]["id"]) for i in range(n_declined)]
        warmup = int(standin.add_member(guild["id"], "warmup")["user"]["id"])
        yield World(
            standin=standin,
            model=model,
            tmp=tmp,
            guild_id=int(guild["id"]),
            channel_id=int(channel["id"]),
            consented=consented,
            declined=declined,
            warmup_member=warmup,
            pseudonyms=Pseudonymizer(PSEUDONYM_KEY.encode()),
        )


async def run(options: Options) -> dict[str, Any]:
    rng = random.Random(options.seed)
    result: dict[str, Any] = {
        "benchmark": "feedback_ingest",
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "config": {
            "members": options.members,
            "answers": options.answers,
            "events": options.events,
            "paced_events": options.paced_events,
            "paced_rate": options.paced_rate,
            "clicks": options.clicks,
            "window": options.window,
            "rate": options.rate or None,
            "click_workers": options.click_workers,
            "seed": options.seed,
            "quick": options.quick,
            "profiled": options.profile,
        },
        "environment": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "discord_py": discord.__version__,
            "sqlite": sqlite3.sqlite_version,
            # Other processes on the machine skew every figure here; compare runs made at a low load.
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
    }
    with tempfile.TemporaryDirectory(prefix="culturebot-bench-") as tmp_name:
        async with make_world(options, Path(tmp_name)) as world:
            settings = world.settings()
            started = time.monotonic()
            await prepare_database(world, settings)
            consent_s = time.monotonic() - started
            progress(
                f"setup: {len(world.consented)} members consented, {len(world.declined)} declined ({consent_s:.1f}s)"
            )
            bot = build_bot(settings)
            async with connected(bot, world.standin, timeout=30):
                progress("setup: bot connected; members ask questions")
                asks_s = await ask_questions(world, options, rng)
                progress(f"setup: {len(world.answers)} answers in {asks_s:.1f}s")
                result["setup"] = {
                    "consent_s": round(consent_s, 2),
                    "asks_s": round(asks_s, 2),
                    "answers": len(world.answers),
                    "consented_members": len(world.consented),
                    "declined_members": len(world.declined),
                }
                expected = Expected()
                payloads = ReactionPayloads(world, await warm_up(world, expected))
                planner = Planner(world, options, rng)
                phase = functools.partial(reaction_phase, world, options, expected, planner, payloads)
                result["reactions"] = await phase(
                    name="reactions", count=options.events, rate=options.rate, profile=True
                )
                if options.paced_events:
                    result["reactions_paced"] = await phase(
                        name="reactions at the target rate", count=options.paced_events, rate=options.paced_rate
                    )
                if options.clicks:
                    result["buttons"] = await button_phase(world, options, expected, rng)
            progress("bot closed")
    phases = [result[k] for k in ("reactions", "reactions_paced", "buttons") if k in result]
    errors = int(result.get("buttons", {}).get("errors", 0))
    correct = errors == 0 and all(p["settled"] and p["lost"] == 0 and p["double_counted"] == 0 for p in phases)
    rate = float(result["reactions"]["events_per_s"])
    result["environment"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["summary"] = {
        "reaction_events_per_s": rate,
        "paced_p99_latency_ms": result.get("reactions_paced", {}).get("latency_ms", {}).get("p99"),
        "clicks_per_s": result.get("buttons", {}).get("clicks_per_s"),
        # Each phase compares the whole table, so the last one holds the final count.
        "lost": phases[-1]["lost"],
        "double_counted": phases[-1]["double_counted"],
        "button_errors": errors,
        "correct": correct,
        "target_met": correct and rate >= TARGET_EVENTS_PER_S,
    }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    return run_benchmark("feedback_ingest", run(options), options.timeout)


if __name__ == "__main__":
    sys.exit(main())
