"""What the real `culturebot run` process logs at the default level: the facts an operator needs, not the
libraries' routine lines, and no "cleanly" after a start that failed."""

from __future__ import annotations

import asyncio
import signal

from tests.e2e.test_shutdown import refused_start, start_bot_process


async def test_a_run_logs_its_model_and_none_of_the_libraries_routine_lines(world):
    world.model.script("An answer.")
    process = await start_bot_process(world)
    await world.standin.send_message(world.channel_id, world.asker_id, world.mention("A question?"))
    await world.standin.wait_for_message(world.channel_id, lambda m: m.content == "An answer.", timeout=15)
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    text = output.decode()
    assert process.returncode == 0, text
    assert f"INFO    bot.llm.client: model endpoint {world.model.base_url}, model fake-model, no API key" in text
    assert "HTTP Request: POST" not in text, "every model request was logged"
    assert "PyNaCl" not in text and "davey" not in text, "the bot never uses voice"
    assert "apscheduler" not in text
    assert "shut down cleanly" in text


async def test_a_failed_start_is_not_called_a_clean_shutdown(world):
    # Commands synced to a server the bot is not in: setting up fails.
    text = await refused_start(world, CULTUREBOT_COMMAND_SYNC="guild", CULTUREBOT_DEV_GUILD_IDS="4242")
    assert "shut down cleanly" not in text
    lines = text.splitlines()
    assert lines[-1].startswith("culturebot: Discord refused a request at start-up"), text
    assert lines[-2].endswith("INFO    bot.runtime: start-up failed; shut down (the reason follows)"), text
