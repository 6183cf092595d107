"""What tests observe: the REST calls the bot made, and a way to wait until a condition holds."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class Changes:
    """Lets coroutines wait until a predicate over the stand-in's state becomes true.

    Every state change calls :meth:`notify`; waiters re-check their predicate then, and also every
    ``poll_interval`` seconds so conditions outside the stand-in (a database, the bot's cache) are seen too.
    """

    poll_interval = 0.02

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, check: Callable[[], T | None], timeout: float, what: str) -> T:  # noqa: ASYNC109
        """Return the first truthy value of ``check()``, re-evaluated after every change."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            event = self._event
            # asyncio.timeout, not asyncio.wait_for: on Python 3.11, a cancellation arriving as wait_for's timeout
            # fires can come out as TimeoutError, and this loop (polled every 20 ms) then never ends. That hung the
            # sandbox at exit: its channel watcher, cancelled, went on waiting.
            try:
                async with asyncio.timeout(min(remaining, self.poll_interval)):
                    await event.wait()
            except TimeoutError:
                continue


@dataclass
class UploadedFile:
    """A file sent as multipart form data (``files[n]``)."""

    field: str
    filename: str
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    """One REST call: ``path`` is relative to the API base (e.g. ``/channels/1/messages``)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[UploadedFile] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    time: float = field(default_factory=time.monotonic)
    status: int | None = None
    fault: bool = False

    def matches(self, method: str, path_regex: str) -> bool:
        return (method == "*" or method.upper() == self.method) and re.search(path_regex, self.path) is not None


class RequestLog:
    """Every REST call in order; faults injected by the stand-in are marked ``fault=True``."""

    def __init__(self, changes: Changes) -> None:
        self._changes = changes
        self.requests: list[RecordedRequest] = []

    def add(self, request: RecordedRequest) -> None:
        self.requests.append(request)
        self._changes.notify()

    def find(
        self,
        method: str,
        path_regex: str,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        *,
        include_faults: bool = False,
    ) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.matches(method, path_regex) and (include_faults or not r.fault) and (predicate is None or predicate(r))
        ]
