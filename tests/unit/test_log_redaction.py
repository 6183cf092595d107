"""Tokens in Discord's webhook and interaction URLs never reach the log (bot/logs.py): the ids stay, the token goes,
in the message, its %-arguments and a traceback alike."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from bot.logs import log_handler, redact_tokens

APP = "1180000000000000001"
INTERACTION = "1180000000000000002"
TOKEN = "aW50ZXJhY3Rpb246MTE4MDAwMDAwMDAwMDAwMDAwMjpXTjFxUUhZV0l1a3dKZGZkRzE2RQ.x-Y_z"
WEBHOOK_TOKEN = "k3fG-9_TqLr0vXyZ1aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcdefghijklmnopqrst"
API = "https://discord.com/api/v10"


@pytest.mark.parametrize(
    ("line", "redacted"),
    [
        (  # discord.http's rate-limit warning
            f"We are being rate limited. PATCH {API}/webhooks/{APP}/{TOKEN}/messages/@original responded with 429. "
            "Retrying in 0.30 seconds.",
            f"We are being rate limited. PATCH {API}/webhooks/{APP}/<token>/messages/@original responded with 429. "
            "Retrying in 0.30 seconds.",
        ),
        (  # discord.webhook's request line (DEBUG), a follow-up with its query
            f"Webhook ID {APP} with POST {API}/webhooks/{APP}/{TOKEN}?wait=true has returned status code 429",
            f"Webhook ID {APP} with POST {API}/webhooks/{APP}/<token>?wait=true has returned status code 429",
        ),
        (  # the interaction's first answer
            f"POST {API}/interactions/{INTERACTION}/{TOKEN}/callback with None has returned 204",
            f"POST {API}/interactions/{INTERACTION}/<token>/callback with None has returned 204",
        ),
        (  # an aiohttp error, quoted
            f"ConnectionTimeoutError: Connection timeout to host {API}/webhooks/{APP}/{WEBHOOK_TOKEN}",
            f"ConnectionTimeoutError: Connection timeout to host {API}/webhooks/{APP}/<token>",
        ),
        (  # a response's repr, and a URL in quotes
            f"Unclosed response <ClientResponse({API}/webhooks/{APP}/{TOKEN}/messages/42) [200 OK]> "
            f"url='{API}/webhooks/{APP}/{WEBHOOK_TOKEN}'",
            f"Unclosed response <ClientResponse({API}/webhooks/{APP}/<token>/messages/42) [200 OK]> "
            f"url='{API}/webhooks/{APP}/<token>'",
        ),
        (  # the stand-in's token: a colon, quoted as %3A in the URL
            f"PATCH http://127.0.0.1:5000/api/v10/webhooks/{APP}/aW50ZXJhY3Rpb246{INTERACTION}%3AAbC-dEf_123/messages/7",
            f"PATCH http://127.0.0.1:5000/api/v10/webhooks/{APP}/<token>/messages/7",
        ),
    ],
)
def test_the_token_of_a_webhook_or_interaction_url_is_replaced_and_the_ids_kept(line, redacted):
    assert redact_tokens(line) == redacted


@pytest.mark.parametrize(
    "line",
    [
        f"PATCH {API}/channels/1180000000000000003/messages/1180000000000000004 responded with 429",
        f"GET {API}/webhooks/{APP} has returned 200",  # a webhook fetched by id with the bot's token: no token in it
        "the model endpoint http://localhost:11434/v1 lists no models",
    ],
)
def test_lines_without_such_a_token_are_left_as_they_are(line):
    assert redact_tokens(line) == line


def test_the_handler_redacts_the_arguments_and_the_traceback_of_any_logger():
    out = io.StringIO()
    handler = log_handler(out)
    url = f"{API}/webhooks/{APP}/{TOKEN}/messages/@original"
    try:
        raise ValueError(f"Connection timeout to host {url}")
    except ValueError:
        exc_info = sys.exc_info()
    for name, message, args, exc in [
        ("discord.http", "We are being rate limited. %s %s responded with 429.", ("PATCH", url), None),
        ("aiohttp.client", "request failed", (), exc_info),
    ]:
        record = logging.getLogger(name).makeRecord(name, logging.WARNING, __file__, 1, message, args, exc)
        handler.handle(record)
    text = out.getvalue()
    assert TOKEN not in text
    assert f"discord.http: We are being rate limited. PATCH {API}/webhooks/{APP}/<token>/messages/@original" in text
    assert f"ValueError: Connection timeout to host {API}/webhooks/{APP}/<token>/messages/@original" in text
    assert "Traceback (most recent call last)" in text, "the traceback is still written, without the token"
