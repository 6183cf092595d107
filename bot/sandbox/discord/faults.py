"""REST faults tests inject: 429 rate limits (as Discord/Cloudflare send them), 5xx errors, slow answers, and
connections dropped without an answer (`DROP`: the network failed; the client raises aiohttp's
ServerDisconnectedError, which discord.py does not retry)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .http_util import json_response

DROP = 0  # Fault.status: close the connection without answering


@dataclass
class Fault:
    """Answer the next ``count`` requests matching ``method`` and ``path_regex`` with ``status``; with ``late``,
    carry them out as usual but hold their answers back that many seconds (Discord slow to answer: what a request
    does has happened before the client hears of it); with ``after``, carry them out and then answer ``status``
    (Discord failing once the change was made: a 500 or 504 after the message was created)."""

    method: str
    path_regex: str
    status: int = 429
    retry_after: float = 0.2
    count: int = 1
    global_: bool = False
    json_match: dict[str, Any] | None = None  # only requests whose JSON body holds these keys and values
    late: float | None = None
    after: bool = False
    hits: int = 0

    def matches(self, method: str, path: str, json: object = None) -> bool:
        if self.json_match is not None and not (
            isinstance(json, dict) and all(key in json and json[key] == value for key, value in self.json_match.items())
        ):
            return False
        return (self.method == "*" or self.method.upper() == method) and re.search(self.path_regex, path) is not None

    def response(self) -> web.Response:
        if self.status == 429:
            body = {"message": "You are being rate limited.", "retry_after": self.retry_after, "global": self.global_}
            headers = {
                "Via": "1.1 google",
                "Retry-After": f"{self.retry_after:g}",
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": f"{self.retry_after:g}",
                "X-RateLimit-Scope": "global" if self.global_ else "user",
            }
            if self.global_:
                headers["X-RateLimit-Global"] = "true"
            response = json_response(body, status=429)
            response.headers.update(headers)
            return response
        return json_response({"message": f"{self.status}: stand-in injected server error", "code": 0}, self.status)


class FaultInjector:
    """Pending faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []
        self.fired: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.pending.append(fault)
        return fault

    def take(self, method: str, path: str, json: object = None) -> Fault | None:
        """The fault to fire for this request, if any (counting it as used)."""
        for fault in self.pending:
            if fault.matches(method, path, json):
                fault.hits += 1
                if fault.hits >= fault.count:
                    self.pending.remove(fault)
                self.fired.append(fault)
                return fault
        return None

    def clear(self) -> None:
        self.pending.clear()
