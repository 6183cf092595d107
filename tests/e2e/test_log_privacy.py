"""CULTUREBOT_LOG_LEVEL=DEBUG never writes members' text or interaction tokens to the log: the real bot, its real
libraries (aiosqlite, discord.py, openai), the Discord stand-in and the fake model, over real sockets."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.config import LogLevel
from bot.logs import setup_logging
from tests.e2e.test_scope_commands import run
from tests.helpers import eventually

# The stand-ins play Discord and the model: what they log is what Discord and the model provider see.
STAND_INS = ("bot.sandbox", "aiohttp.access", "aiohttp.server", "aiohttp.web")


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """`culturebot run`'s logging at DEBUG, for the test only."""
    names = ["", "aiosqlite", "discord.gateway", "discord.http", "discord.webhook", "openai", "httpx", "httpx2"]
    levels = {name: logging.getLogger(name).level for name in names}
    names.append("apscheduler")
    voice_filters = list(logging.getLogger("discord.client").filters)
    handlers = list(logging.getLogger().handlers)
    # caplog first: it puts back the root level it found, which must be the one before setup_logging's DEBUG
    # (the other way round, every later test ran with the root logger at DEBUG).
    caplog.set_level(logging.DEBUG)
    setup_logging(LogLevel.DEBUG)
    yield caplog
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger("discord.client").filters[:] = voice_filters
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h not in handlers]:  # basicConfig's, to this test's stderr
        root.removeHandler(handler)


def bot_lines(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        f"{record.name}: {record.getMessage()}" for record in caplog.records if not record.name.startswith(STAND_INS)
    )


async def test_debug_logs_carry_no_members_text_nor_interaction_tokens(world, run_bot, debug_log):
    world.model.script("An answer about greetings.", "An answer about lunch.")
    async with run_bot(cooldown=0):
        question = "Kelapa-muda question: how do I greet my boss?"
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention(question))
        await world.standin.wait_for_message(world.channel_id, lambda m: m.content == "An answer about greetings.")
        asked = await run(world, world.asker_id, "ask", {"question": "Durian-manis question: lunch with clients?"})
        await eventually(lambda: len(world.model.chat_requests) == 2, what="the /ask answer")
        await world.standin.wait_for_message(world.channel_id, lambda m: m.content == "An answer about lunch.")
    lines = bot_lines(debug_log)
    assert any(record.levelno == logging.DEBUG for record in debug_log.records), "the log is at DEBUG"
    for private in ("Kelapa-muda", "Durian-manis", asked.token):
        assert private not in lines
    assert "aiosqlite" not in lines and "WebSocket Event" not in lines  # nothing of theirs below INFO
