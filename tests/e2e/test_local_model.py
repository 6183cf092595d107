"""The first loop once through the real embedded model (llama.cpp serving SmolLM2-135M-Instruct)."""

from __future__ import annotations

import sqlite3

import pytest

from bot.answers.safety import shown_text
from bot.answers.stream_outcome import LENGTH_ERROR, LENGTH_NOTE
from bot.app import model_client
from bot.pseudonyms import Pseudonymizer
from bot.runtime import CultureBot
from bot.sandbox.discord.testing import connected
from tests.e2e.conftest import SCOPE_FIXTURE, declare_scope
from tests.helpers import eventually, give_consent

pytestmark = pytest.mark.local_model


async def test_mention_answered_by_the_embedded_model(world):
    settings = world.settings(
        model_base_url=None, model_max_tokens=48, local_model_context=2048, model_timeout_seconds=120
    )
    await declare_scope(settings, world.guild_id, SCOPE_FIXTURE)
    async with model_client(settings) as model:
        assert model.model == "smollm2-135m-instruct"
        bot = CultureBot(settings, model=model, pseudonyms=Pseudonymizer(b"k" * 32))
        async with connected(bot, world.standin):
            await world.standin.send_message(
                world.channel_id, world.asker_id, world.mention("How do I greet an older colleague politely?")
            )

            def finished():
                with sqlite3.connect(world.tmp_path / "bot.sqlite3") as conn:
                    return conn.execute(
                        "SELECT outcome, error, answer, tokens_out, tokens_estimated FROM answers "
                        "WHERE outcome != 'streaming'"
                    ).fetchone()

            outcome, error, answer, tokens_out, estimated = await eventually(finished, 120, "the local model's answer")
            assert len(answer.split()) >= 3
            assert tokens_out > 0
            assert estimated == 1  # llama.cpp's server reports no usage in streams
            [message] = world.standin.bot_messages(world.channel_id)
            # 48 tokens rarely finish a thought: an answer cut at the limit says so, and is recorded as such.
            if outcome == "incomplete":
                assert error == LENGTH_ERROR.format(reason="length")
                assert message.content.strip() == (shown_text(answer) + LENGTH_NOTE).strip()
            else:
                assert (outcome, error) == ("ok", None)
                # As shown: a tiny model often echoes the prompt's tags around the member's text, taken out.
                assert message.content.strip() == shown_text(answer).strip()
            await give_consent(world.tmp_path / "bot.sqlite3", world.guild_id, world.member_id)
            await world.standin.add_reaction(world.channel_id, message.id, world.member_id, "✅")

            def rated():
                with sqlite3.connect(world.tmp_path / "bot.sqlite3") as conn:
                    return conn.execute("SELECT value FROM ratings").fetchone()

            assert (await eventually(rated, 10, "the rating"))[0] == 3
