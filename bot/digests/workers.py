"""Digests are made in worker processes: two servers' digests at once, off the bot's event loop and its GIL.

`DigestWorkers.make(job)` runs `make_digest` in a process pool. A `DigestJob` names the database file, the
server and the period; the worker reads the rows itself on a read-only connection (the storage layer's
`read_digest_periods`), computes the digest, writes its files and sends back `MadeDigest` (the files, the digest
and how long each step took). The rows are not sent to the worker: pickling and unpickling 100,000 ratings
takes over 4 s, more than making the digest.

The pool has one process per core, at most two (CPU work beyond that only waits), started on first use with
"spawn" (a fork of the bot would copy its threads' locks mid-use) and kept for later digests. A worker
that dies (killed, out of memory) breaks the pool, failing the digests being made in it; each of those is
tried once more in a process of its own, and raises `WorkerStopped` if that dies too. Like any failed
digest, its claimed period then stays pending and is made again by the next catch-up. Digests wait for a
free worker outside the pool, so the ones waiting are not affected. `close` lets running digests finish for
a grace period, then ends the workers (a digest ended this way raises `WorkerStopped` too).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path

from bot.collector import freeze_and_collect_less
from bot.digests.report import DigestFiles, write_digest_files
from bot.digests.rows import DigestRows
from bot.digests.stats import compute_digest
from bot.storage.sqlite.digests import read_digest_periods

log = logging.getLogger(__name__)

MAX_WORKERS = 2


@dataclass(frozen=True, slots=True)
class DigestJob:
    """One server's digest: the period [start, end), compared with [previous_start, start)."""

    database: Path
    guild_id: int
    start: str  # stored timestamps, as `sqlite_timestamp` writes them
    end: str
    previous_start: str
    directory: Path
    seed: int = 0
    bootstrap: int = 1000
    feedback_before: str | None = None  # ratings and comments given before this count (default: `end`)
    timezone: str = "UTC"  # whose days fit over time counts: the server's (an IANA name)


@dataclass(frozen=True, slots=True)
class MadeDigest:
    """What a worker sends back: the files (with the digest) and where the time went."""

    files: DigestFiles
    read_seconds: float  # reading both periods' rows
    statistics_seconds: float  # compute_digest
    files_seconds: float  # chart, reports, digest.json, exports
    worker: int  # the process id that made it


class WorkerStopped(RuntimeError):
    """The worker process making a digest died (and again when the digest was tried alone), or was ended at
    shutdown."""


def make_digest(job: DigestJob) -> MadeDigest:
    """Read the rows, compute the digest and write its files (what a worker runs; also callable directly)."""
    started = time.perf_counter()
    current, previous = read_digest_periods(
        job.database, job.guild_id, job.start, job.end, job.previous_start, job.feedback_before
    )
    read = time.perf_counter()
    digest = compute_digest(current, previous, seed=job.seed, bootstrap=job.bootstrap, timezone=job.timezone)
    computed = time.perf_counter()
    # The chart draws its line from the digest (daily or weekly timeline) and needs only the earlier period's
    # dates and scope changes: its rows go before the files are made (a third of a large server's memory).
    previous = DigestRows(previous.guild_id, previous.guild_name, previous.start, previous.end, audit=previous.audit)
    files = write_digest_files(current, previous, job.directory, digest=digest, seed=job.seed, bootstrap=job.bootstrap)
    return MadeDigest(files, read - started, computed - read, time.perf_counter() - computed, os.getpid())


def _start_worker() -> None:
    # Ctrl+C in a terminal reaches the whole process group: the bot shuts its workers down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_freed_memory()
    # What the worker has imported (numpy, matplotlib, the digest code: some 90,000 objects) lives as long as
    # it does; a digest's rows hold no cycles (bot/collector.py).
    freeze_and_collect_less()


_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 64 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep memory a digest freed for the next one (up to TRIM_THRESHOLD at the heap's top),
    and serve blocks below MMAP_THRESHOLD from the heap rather than from fresh mappings.

    A digest allocates and frees many blocks of a few hundred KB to a few MB (texts joined for the exports,
    numpy temporaries). By default each such block is a new mapping whose pages the kernel faults in and
    zeroes, and is unmapped when freed: about 2,000 page faults and 8 ms of system time per 5,000-rating
    digest. Peak memory is unchanged (the peak is reached either way). False where malloc is not glibc's.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


class DigestWorkers:
    """A lazily started pool of digest worker processes (see the module docstring)."""

    def __init__(
        self, processes: int | None = None, *, target: Callable[[DigestJob], MadeDigest] = make_digest
    ) -> None:
        self.processes = processes or min(MAX_WORKERS, os.cpu_count() or 1)
        self._target = target  # a module-level function: workers receive it by name
        self._pool: ProcessPoolExecutor | None = None
        self._retrying: set[ProcessPoolExecutor] = set()
        # Digests wait here rather than in the pool's queue: a worker that dies fails every digest queued in
        # its pool, and this way that is only the ones being made.
        self._slots = asyncio.Semaphore(self.processes)
        self._closed = False

    def _new_pool(self, processes: int) -> ProcessPoolExecutor:
        if self._closed:
            raise WorkerStopped("the digest workers were closed (the bot is shutting down)")
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(processes, mp_context=context, initializer=_start_worker)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = self._new_pool(self.processes)
        return self._pool

    async def make(self, job: DigestJob) -> MadeDigest:
        """Make the digest in a worker; raises what `make_digest` raised, or `WorkerStopped`."""
        loop = asyncio.get_running_loop()
        async with self._slots:
            pool = self._executor()
            try:
                return await loop.run_in_executor(pool, self._target, job)
            except BrokenProcessPool:
                if self._pool is pool:
                    self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            if self._closed:
                raise WorkerStopped(f"server {job.guild_id}'s digest was stopped: the bot is shutting down")
            # A worker died: this digest's, or the one making the digest beside it. Tried again in a process
            # of its own, so that a digest that kills its worker every time takes no other digest with it.
            log.warning("a digest worker died while server %d's digest was being made; trying it alone", job.guild_id)
            alone = self._new_pool(1)
            self._retrying.add(alone)
            try:
                return await loop.run_in_executor(alone, self._target, job)
            except BrokenProcessPool:
                raise WorkerStopped(
                    f"the worker process making server {job.guild_id}'s digest stopped before finishing it"
                ) from None
            finally:
                self._retrying.discard(alone)
                alone.shutdown(wait=False)

    @property
    def closed(self) -> bool:
        """Whether `close` was called (the bot is shutting down): digests stopped now raise `WorkerStopped`."""
        return self._closed

    async def start(self) -> list[int]:
        """Start every worker now rather than at the first digest (imports take a second); their process ids."""
        loop = asyncio.get_running_loop()
        pool = self._executor()
        # Tasks that wait a moment keep each worker busy, so that each one is started and gets one.
        return list(await asyncio.gather(*(loop.run_in_executor(pool, _ready, 0.2) for _ in range(self.processes))))

    async def close(self, grace: float) -> None:
        """Stop taking digests; let running ones finish for up to `grace` seconds, then end the workers (their
        digests raise `WorkerStopped`)."""
        self._closed = True
        pools = [pool for pool in [self._pool, *self._retrying] if pool is not None]
        self._pool = None
        processes = [process for pool in pools for process in _processes(pool)]
        # Each pool's own thread waits for (and reaps) its workers; this one only waits for those threads.
        stopping = [
            asyncio.ensure_future(asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)) for pool in pools
        ]
        if not stopping:
            return
        _, busy = await asyncio.wait(stopping, timeout=grace)
        if busy:
            log.warning("digest workers were still busy after %.0fs and are stopped", grace)
            for process in processes:
                process.terminate()  # does nothing to a worker that has exited
            await asyncio.wait(stopping)


def _ready(pause: float) -> int:
    time.sleep(pause)  # the worker has imported this module, and with it numpy, matplotlib and the digest code
    return os.getpid()


def _processes(pool: ProcessPoolExecutor) -> list[BaseProcess]:
    # The pool's own processes: ProcessPoolExecutor can only terminate them itself from Python 3.14 on.
    processes = getattr(pool, "_processes", None) or {}
    return list(processes.values())
