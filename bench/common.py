"""Helpers the benchmarks share: reading the database, percentiles, profiling."""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import gc
import io
import json
import logging
import math
import pstats
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any


def read_db(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A read on a connection of our own (WAL: sees what the bot committed, never blocks it)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        return conn.execute(sql, params).fetchall()


def percentiles(samples: list[float]) -> dict[str, float | int | None]:
    if not samples:
        return {"samples": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(samples)

    def at(q: float) -> float:
        # Nearest rank: the smallest sample with at least a fraction q of the samples at or below it.
        rank = min(len(ordered), max(1, math.ceil(q * len(ordered) - 1e-9)))
        return round(ordered[rank - 1], 2)

    return {
        "samples": len(ordered),
        "min": round(ordered[0], 2),
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "max": round(ordered[-1], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


@contextlib.contextmanager
def profiled(kind: str | None, out: Path | None, progress: Callable[[str], None]) -> Iterator[None]:
    if kind is None:
        yield
        return
    if kind == "pyinstrument":
        try:
            from pyinstrument import Profiler  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            progress("pyinstrument is not installed (.venv/bin/pip install pyinstrument); using cProfile")
        else:
            profiler = Profiler(async_mode="disabled", interval=0.0005)
            profiler.start()
            try:
                yield
            finally:
                profiler.stop()
                print(profiler.output_text(unicode=True, color=False, show_all=False), file=sys.stderr)
                if out is not None:
                    out.write_text(profiler.output_html())
                    progress(f"profile saved to {out}")
            return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        text = io.StringIO()
        stats = pstats.Stats(profile, stream=text)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(80)
        print(text.getvalue(), file=sys.stderr)
        if out is not None:
            stats.dump_stats(out)
            progress(f"profile saved to {out}")


def run_benchmark(name: str, run: Coroutine[Any, Any, dict[str, Any]], timeout: float) -> int:
    """Run a benchmark and print its one JSON object, also when it fails; exit 0 only if targets were met."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = asyncio.run(asyncio.wait_for(run, timeout=timeout))
    except Exception as error:  # still one JSON object on stdout, saying what went wrong
        logging.getLogger(f"bench.{name}").exception("the benchmark failed")
        reason = str(error) or f"{type(error).__name__} (the whole run is limited to {timeout:.0f}s)"
        print(json.dumps({"benchmark": name, "error": reason}))
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["summary"]["target_met"] else 1


class GcPauses:
    """Every garbage collection of this process while started: (when it began, generation, seconds it took).

    A collection stops the event loop; the oldest generation's can take tens of milliseconds in a busy bot,
    and a question arriving meanwhile waits. `between` summarises one phase per generation.
    """

    def __init__(self) -> None:
        self.samples: list[tuple[float, int, float]] = []
        self._began = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.monotonic()
        else:
            self.samples.append((self._began, info["generation"], time.monotonic() - self._began))

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def between(self, start: float, end: float) -> dict[str, dict[str, float | int]]:
        """Per generation: collections, their total and longest pause in milliseconds."""
        summary: dict[str, dict[str, float | int]] = {}
        for generation in (0, 1, 2):
            pauses = [took * 1000 for at, gen, took in self.samples if gen == generation and start <= at <= end]
            summary[f"gen{generation}"] = {
                "collections": len(pauses),
                "total_ms": round(sum(pauses), 1),
                "max_ms": round(max(pauses), 2) if pauses else 0.0,
            }
        return summary


class LoopLag:
    """How late this process's event loop runs a callback it scheduled: a measure of its queueing.

    Every `interval` seconds a timer notes how long after its due time it ran. Samples are (when, lag); `between`
    summarises those of one phase. It costs one timer callback per interval.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + self.interval

        def tick(due: float) -> None:
            now = loop.time()
            self.samples.append((now, now - due))
            self._handle = loop.call_at(now + self.interval, tick, now + self.interval)

        self._handle = loop.call_at(due, tick, due)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def between(self, start: float, end: float) -> dict[str, float | int | None]:
        """Percentiles of the lag in milliseconds, for samples taken between `start` and `end` (monotonic)."""
        return percentiles([lag * 1000 for at, lag in self.samples if start <= at <= end])
