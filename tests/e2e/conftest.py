"""Fixtures that run the whole bot against the Discord stand-in and the fake model."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import client_for
from bot.config import Settings, load_settings
from bot.pseudonyms import Pseudonymizer
from bot.runtime import CultureBot
from bot.sandbox.discord import DiscordStandIn
from bot.sandbox.discord.testing import connected
from bot.sandbox.fake_openai import FakeOpenAI
from bot.scopes.manage import store_document
from bot.scopes.parser import parse_scope
from bot.storage import ScopeSource, open_storage


@dataclass
class World:
    """A demo server: one guild, a text channel, the bot, and two members."""

    standin: DiscordStandIn
    model: FakeOpenAI
    guild_id: int
    channel_id: int
    asker_id: int
    member_id: int
    tmp_path: Path

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "discord_token": self.standin.token,
            "discord_api_base": self.standin.api_base,
            "discord_gateway_url": self.standin.gateway_url,
            "guild_ready_timeout": 0.05,
            "database_path": self.tmp_path / "bot.sqlite3",
            "digest_dir": self.tmp_path / "digests",  # not the default under the working directory
            "pseudonym_key": "k" * 32,
            "model_base_url": self.model.base_url,
            "model_name": "fake-model",
            "model_max_retries": 1,
            "model_timeout_seconds": 5,
            "stream_edit_interval": 0.2,
            "shutdown_grace_seconds": 5,
        }
        values.update(overrides)
        return load_settings(_env_file=None, **values)

    def mention(self, text: str) -> str:
        return f"<@{self.standin.bot_user_id}> {text}"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with DiscordStandIn(bot_username="culturebot") as standin, FakeOpenAI(model="fake-model") as model:
        guild = standin.add_guild("Kopi Talk")
        channel = standin.add_channel(guild["id"], "ask-the-bot")
        asker = standin.add_member(guild["id"], "ayu")
        member = standin.add_member(guild["id"], "budi")
        yield World(
            standin=standin,
            model=model,
            guild_id=int(guild["id"]),
            channel_id=int(channel["id"]),
            asker_id=int(asker["user"]["id"]),
            member_id=int(member["user"]["id"]),
            tmp_path=tmp_path,
        )


def build_bot(settings: Settings) -> CultureBot:
    assert settings.model_base_url is not None
    assert settings.pseudonym_key is not None
    model = client_for(settings, str(settings.model_base_url), None, settings.model_name)
    pseudonyms = Pseudonymizer(settings.pseudonym_key.get_secret_value().encode())
    return CultureBot(settings, model=model, pseudonyms=pseudonyms)


SCOPE_FIXTURE = Path(__file__).parent.parent / "fixtures" / "kopi_scope.md"
MODERATOR_ID = 42


async def declare_scope(settings: Settings, guild_id: int, path: Path) -> None:
    """Give the server a scope before the bot starts (unless it has one), as a moderator's upload would."""
    storage = await open_storage(settings)
    try:
        if await storage.current_scope(guild_id) is None:
            document = parse_scope(path.read_bytes(), source=path.name)
            await store_document(storage, guild_id, MODERATOR_ID, document, ScopeSource.UPLOAD, "test fixture")
    finally:
        await storage.close()


async def set_guild_settings(settings: Settings, guild_id: int, changes: dict[str, Any]) -> None:
    """Change server settings before the bot starts, as the moderators' commands would."""
    storage = await open_storage(settings)
    try:
        await storage.update_guild_settings(guild_id, MODERATOR_ID, changes, detail="test set-up")
    finally:
        await storage.close()


RunBot = Callable[..., contextlib.AbstractAsyncContextManager[CultureBot]]


@pytest.fixture
def run_bot(world: World) -> RunBot:
    """`async with run_bot(**setting_overrides) as bot:` runs a connected bot for the block."""

    @contextlib.asynccontextmanager
    async def runner(
        *, scope: Path | None = SCOPE_FIXTURE, cooldown: int | None = None, **overrides: Any
    ) -> AsyncIterator[CultureBot]:
        settings = world.settings(**overrides)
        if scope is not None:
            await declare_scope(settings, world.guild_id, scope)
        if cooldown is not None:
            await set_guild_settings(settings, world.guild_id, {"cooldown_seconds": cooldown})
        bot = build_bot(settings)
        async with connected(bot, world.standin) as ready:
            yield ready

    return runner


@pytest.fixture
def moderator(world: World) -> int:
    """A member with Manage Server (through a role)."""
    role = world.standin.add_role(world.guild_id, "Moderators", permissions=1 << 5)  # MANAGE_GUILD
    return int(world.standin.add_member(world.guild_id, "mod-sari", roles=[role["id"]])["user"]["id"])


@pytest.fixture
def digest_channel(world: World) -> int:
    return int(world.standin.add_channel(world.guild_id, "research-digest")["id"])
