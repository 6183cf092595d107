"""The sandbox's demo server on the Discord stand-in, and the scripted replies of `--model fake`.

Ids are fixed so that a database kept with `--db` finds the same server and members on the next run
(research data is keyed by server and by the members' pseudonymised ids).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bot.sandbox.discord import OVERWRITE_MEMBER, DiscordStandIn
from bot.sandbox.discord.permissions import Permission
from bot.sandbox.fake_openai import Reply

GUILD_NAME = "Demo community"
GUILD_ID = 1_300_000_000_000_000_001
OWNER_ID = 1_300_000_000_000_000_002
MEMBER_IDS = {"ayu": 1_300_000_000_000_000_011, "budi": 1_300_000_000_000_000_012, "mod": 1_300_000_000_000_000_013}
MODERATOR = "mod"
CHANNELS = ("ask", "digest", "mod-log")
# The settings name channels and roles by id (answer channels, the digest channel, the research role): new ids on
# the next run would read as deleted ones, and the bot would answer nowhere.
CHANNEL_IDS = {
    "ask": 1_300_000_000_000_000_021,
    "digest": 1_300_000_000_000_000_022,
    "mod-log": 1_300_000_000_000_000_023,
}
ROLE_IDS = {"Moderators": 1_300_000_000_000_000_031, "Researchers": 1_300_000_000_000_000_032}
MANAGE_GUILD = 1 << 5
_BOT_IN_DIGEST = int(
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
)


@dataclass(frozen=True)
class DemoWorld:
    """The demo server as the front end needs it: where to post, and who can act."""

    standin: DiscordStandIn
    guild_id: int
    channels: dict[str, int]  # name without '#' -> channel id
    members: dict[str, int]  # name -> user id
    research_role_id: int  # the moderator also holds it, so the sandbox's digest carries the data files
    moderator: str = MODERATOR

    @property
    def ask_channel(self) -> int:
        return self.channels["ask"]


class _FirstId:
    """Hands out `first` once, then defers to the stand-in's own id factory."""

    def __init__(self, first: int, factory: Any) -> None:
        self._first: int | None = first
        self._factory = factory

    def next(self) -> int:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return int(self._factory.next())


@contextlib.contextmanager
def _numbered(standin: DiscordStandIn, first: int) -> Iterator[None]:
    """The stand-in numbers what it creates itself; a kept database needs the same ids every run."""
    factory = standin.state.ids
    standin.state.ids = _FirstId(first, factory)  # type: ignore[assignment]
    try:
        yield
    finally:
        standin.state.ids = factory


def build_demo_world(standin: DiscordStandIn) -> DemoWorld:
    """Create the server, its channels, a moderators and a researchers role, two members and a moderator
    (who holds both roles)."""
    standin.add_user("demo-owner", user_id=OWNER_ID)
    with _numbered(standin, GUILD_ID):
        guild = standin.add_guild(GUILD_NAME, owner_id=OWNER_ID)
    guild_id = int(guild["id"])
    channels = {}
    for name in CHANNELS:
        with _numbered(standin, CHANNEL_IDS[name]):
            channels[name] = int(standin.add_channel(guild_id, name, topic=_TOPICS[name])["id"])
    with _numbered(standin, ROLE_IDS["Moderators"]):
        moderators = standin.add_role(guild_id, "Moderators", permissions=MANAGE_GUILD)
    with _numbered(standin, ROLE_IDS["Researchers"]):
        researchers = standin.add_role(guild_id, "Researchers")
    # #digest as a server should have it: each digest there carries the data files, so only the research team
    # (and the bot) may read it; /setup warned about the sandbox's own server.
    standin.set_permission_overwrite(channels["digest"], guild_id, deny=Permission.VIEW_CHANNEL)  # @everyone
    standin.set_permission_overwrite(channels["digest"], researchers["id"], allow=Permission.VIEW_CHANNEL)
    standin.set_permission_overwrite(
        channels["digest"], standin.bot_user_id, allow=_BOT_IN_DIGEST, type=OVERWRITE_MEMBER
    )
    members = {}
    for name, user_id in MEMBER_IDS.items():
        roles = [moderators["id"], researchers["id"]] if name == MODERATOR else []
        members[name] = int(standin.add_member(guild_id, name, roles=roles, user_id=user_id)["user"]["id"])
    return DemoWorld(
        standin=standin,
        guild_id=guild_id,
        channels=channels,
        members=members,
        research_role_id=int(researchers["id"]),
    )


_TOPICS = {
    "ask": "Ask culturebot: mention it with your question",
    "digest": "The weekly research digest",
    "mod-log": "Scope changes and other moderator actions",
}

# ----------------------------------------------------------------------------- the fake model

FAKE_MODEL_NAME = "sandbox-fake"
_TITLE = re.compile(r"^# (.+)$", re.MULTILINE)
_SECTION = re.compile(r"^## (.+)$", re.MULTILINE)
_QUESTION = re.compile(r"<member_message>\n(.*?)\n</member_message>", re.DOTALL)


def fake_reply(body: dict[str, Any]) -> Reply:
    """A deterministic, scope-aware reply, streamed at a readable pace, so the demo shows the whole loop.

    It names the declared scope and the scope sections the bot chose, so a scope change is visible.
    """
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    system = next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "")
    question_match = _QUESTION.search(str(messages[-1].get("content") or "")) if messages else None
    question = question_match.group(1).strip() if question_match else "your question"
    title = _TITLE.search(system)
    sections = _SECTION.findall(system)
    scope = f"within the declared scope “{title.group(1).strip()}”" if title else "without a declared scope"
    used = f" The parts of the scope that apply here: {', '.join(sections[:3])}." if sections else ""
    text = (
        f"(Sandbox model: a scripted reply, not a real answer.) You asked: “{question[:200]}”. "
        f"Answering {scope}: it depends on who you are talking to, where, and how well you know them.{used} "
        "People usually start more formally with someone senior or new to them and relax the register as the "
        "relationship grows; what counts as polite varies by workplace, generation and region, so take this as a "
        "starting point rather than a rule. Who is the other person to you, and is this at work or outside it?"
    )
    return Reply(text, ttft=0.2, tokens_per_second=45)
