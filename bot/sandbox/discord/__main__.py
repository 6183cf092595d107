"""Run the Discord stand-in on its own: ``python -m bot.sandbox.discord --port 8765``.

Seeds one guild with a text channel and a member, prints the URLs and the bot token, and serves
until interrupted. Point a bot at it by setting ``discord.http.Route.BASE`` to the API base and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` to the gateway URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from .server import DiscordStandIn


async def serve(host: str, port: int, guild: str, channel: str, member: str, token: str | None) -> None:
    standin = DiscordStandIn(token=token)
    await standin.start(host=host, port=port)
    seeded = standin.add_guild(guild)
    seeded_channel = standin.add_channel(seeded["id"], channel)
    seeded_member = standin.add_member(seeded["id"], member)
    lines = [
        f"api_base     {standin.api_base}",
        f"gateway_url  {standin.gateway_url}",
        f"token        {standin.token}",
        f"guild        {seeded['id']} ({guild})",
        f"channel      {seeded_channel['id']} (#{channel})",
        f"member       {seeded_member['user']['id']} ({member})",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await standin.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox.discord", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--guild", default="Sandbox")
    parser.add_argument("--channel", default="general")
    parser.add_argument("--member", default="tester")
    parser.add_argument("--token", default=None, help="the token the bot must present (default: generated)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.guild, args.channel, args.member, args.token))


if __name__ == "__main__":
    main()
