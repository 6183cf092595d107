"""Point discord.py at a Discord-compatible server (Discord itself, Spacebar, or the stand-in).

discord.py keeps its endpoints in class attributes, so this is process-wide: one bot per process.
"""

from __future__ import annotations

import discord.gateway
import discord.http
import yarl


def use_discord_endpoints(api_base: str, gateway_url: str) -> None:
    """Send REST calls to `api_base` (e.g. https://discord.com/api/v10) and connect to `gateway_url`."""
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
