"""Logging set-up: one format for the bot and its libraries; secrets and members' text are never logged.

Members' text stays out of the log at every level, DEBUG included: the libraries that would write it at DEBUG are
held at INFO whatever CULTUREBOT_LOG_LEVEL says (`PRIVATE_AT_DEBUG`). Libraries whose INFO lines are routine
noise are held at WARNING (`NOISY_AT_INFO`). Tokens in Discord's webhook and interaction URLs are replaced in every
line the handler writes, whichever logger it comes from (`redact_tokens`).
"""

from __future__ import annotations

import logging
import re
from typing import TextIO

from bot.config import LogLevel

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"

# What each of these would write at DEBUG; they are held at INFO.
PRIVATE_AT_DEBUG = (
    # Every statement it runs, with its parameters: questions, answers and comments as they are stored.
    "aiosqlite",
    # Every gateway event's payload: messages' text, member ids, interaction tokens.
    "discord.gateway",
    # Every request's body and response (answers, threads named after questions, messages read back) and URLs
    # carrying interaction tokens.
    "discord.http",
    # Interaction follow-ups: URLs carrying the interaction token.
    "discord.webhook",
    # The model client: each request's method, status and retries in the version in use; older versions logged the
    # request's options, the prompt with the member's question included.
    "openai",
)
# Routine lines at INFO: every model request (httpx2 is the HTTP library under the openai package; httpx for older
# versions of it) and the scheduler's job bookkeeping at each start. Their warnings and errors still show.
NOISY_AT_INFO = ("httpx", "httpx2", "apscheduler")
# The model's URL is all httpx2 logs, at INFO only: kept out even at DEBUG.
ALWAYS_QUIET = ("httpx", "httpx2")
# discord.py warns at every start that voice is not supported: the bot never uses voice.
VOICE_WARNINGS = ("PyNaCl is not installed", "davey is not installed")


class _NoVoiceWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(VOICE_WARNINGS))


# The token in `/webhooks/<id>/<token>` and `/interactions/<id>/<token>/callback`: an interaction's token lets whoever
# has it answer as the bot for 15 minutes, a webhook's for ever. The ids stay: they help find the request.
# discord.py's request lines name these URLs (at DEBUG, held back above), and so can its HTTP client's rate-limit
# warning, aiohttp's errors (a connect timeout names the whole URL) and the tracebacks that quote them.
_TOKEN_IN_URL = re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/\s?#'\"<>()\[\]{}|\\,;]+")


def redact_tokens(text: str) -> str:
    """The text with the token of each Discord webhook or interaction URL in it replaced by `<token>`."""
    return _TOKEN_IN_URL.sub(r"\g<1><token>", text)


class RedactingFormatter(logging.Formatter):
    """Lines as `logging.Formatter` writes them (the message with its %-arguments, then any traceback or stack), with
    `redact_tokens` applied to the whole line."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_tokens(super().format(record))


def log_handler(stream: TextIO | None = None) -> logging.Handler:
    """The handler the bot's log is written through: to `stream` (stderr by default), in the bot's format, with no
    token of a Discord webhook or interaction URL in it."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(LOG_FORMAT, DATE_FORMAT))
    return handler


def setup_logging(level: LogLevel) -> None:
    logging.basicConfig(handlers=[log_handler()])
    logging.getLogger().setLevel(level.value)
    quiet_libraries(logging.getLevelNamesMapping()[level.value])


def quiet_libraries(level: int) -> None:
    """Hold the libraries' loggers where this module's docstring says, for a log at `level` (e.g. logging.DEBUG)."""
    for name in PRIVATE_AT_DEBUG:
        logging.getLogger(name).setLevel(max(logging.INFO, level))
    for name in NOISY_AT_INFO:
        quiet = name in ALWAYS_QUIET or level > logging.DEBUG
        logging.getLogger(name).setLevel(max(logging.WARNING, level) if quiet else level)
    voice = logging.getLogger("discord.client")
    if not any(isinstance(existing, _NoVoiceWarnings) for existing in voice.filters):
        voice.addFilter(_NoVoiceWarnings())
