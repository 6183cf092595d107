"""An interaction's token never reaches the log: a /ask answer whose follow-up and edits Discord rate-limits, written
through the handler `culturebot run` logs with (bot/logs.py), over real discord.py and the Discord stand-in."""

from __future__ import annotations

import io
import logging
import re

import pytest

from bot.logs import log_handler
from bot.sandbox.fake_openai import Reply
from tests.e2e.test_scope_commands import run


async def test_a_rate_limited_follow_up_and_edit_leave_no_interaction_token_in_the_log(
    world, run_bot, caplog: pytest.LogCaptureFixture
) -> None:
    # discord.py's webhook log (interaction follow-ups go through it) names each request's URL, token included, in
    # its DEBUG lines; its rate-limit warning names only the application id. Opened to DEBUG here, whatever
    # CULTUREBOT_LOG_LEVEL would allow, so that the handler is given lines that carry the token.
    caplog.set_level(logging.DEBUG, logger="discord.webhook")
    written = io.StringIO()
    handler = log_handler(written)
    root = logging.getLogger()
    root.addHandler(handler)
    text = " ".join(f"w{i}" for i in range(30))
    world.model.script(Reply(text, tokens_per_second=30))
    world.standin.fail_next("POST", r"/webhooks/\d+/[^/]+$", status=429, retry_after=0.05)  # the follow-up
    world.standin.fail_next("PATCH", r"/webhooks/\d+/[^/]+/messages/\d+$", status=429, retry_after=0.05)  # an edit
    try:
        async with run_bot(cooldown=0):
            asked = await run(world, world.asker_id, "ask", {"question": "How do I greet my boss?"})
            answer = await world.standin.wait_for_followup(asked.id, timeout=15)
            await world.standin.wait_for(lambda: world.standin.message(answer.id).content == text, timeout=15)
    finally:
        root.removeHandler(handler)

    assert sorted(r.method for r in world.standin.requests if r.fault) == ["PATCH", "POST"], "both were rate-limited"
    secret = asked.token.rpartition(":")[2]  # the stand-in's token; its URLs carry it with the colon as %3A
    assert any(secret in record.getMessage() for record in caplog.records), "the handler was given the token"
    log = written.getvalue()
    assert "is rate limited. Retrying in 0.05 seconds." in log
    assert re.search(r"POST \S+/interactions/\d+/<token>/callback has returned status code 200", log), log
    assert re.search(r"POST \S+/webhooks/\d+/<token> has returned status code 429", log), log
    assert re.search(r"PATCH \S+/webhooks/\d+/<token>/messages/\d+ has returned status code 429", log), log
    assert secret not in log
