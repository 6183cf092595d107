"""Pointing the real discord.py at a stand-in: its REST base and its default gateway are class attributes."""

from __future__ import annotations

from types import TracebackType

import discord.gateway
import discord.http
import yarl


class DiscordPyTarget:
    """Sets ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``; :meth:`restore` puts the old values back.

    Applied on creation; also a context manager that restores on exit. These are process-wide, so only
    one stand-in can be the target at a time.
    """

    def __init__(self, api_base: str, gateway_url: str) -> None:
        self.api_base = api_base
        self.gateway_url = gateway_url
        self._old_base = discord.http.Route.BASE
        self._old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        self.active = False
        self.apply()

    def apply(self) -> None:
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        self.active = True

    def restore(self) -> None:
        if not self.active:
            return
        discord.http.Route.BASE = self._old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._old_gateway
        self.active = False

    def __enter__(self) -> DiscordPyTarget:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.restore()
