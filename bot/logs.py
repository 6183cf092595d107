"""Logging set-up: one format for the bot and its libraries; secrets are never passed to a logger.

Libraries whose INFO lines are routine noise are held at WARNING (`NOISY_AT_INFO`).
"""

from __future__ import annotations

import logging

from bot.config import LogLevel

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


def setup_logging(level: LogLevel) -> None:
    logging.basicConfig(
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    logging.getLogger().setLevel(level.value)
    quiet_libraries(logging.getLevelNamesMapping()[level.value])


def quiet_libraries(level: int) -> None:
    """Hold the libraries' loggers where this module's docstring says, for a log at `level` (e.g. logging.DEBUG)."""
    for name in NOISY_AT_INFO:
        quiet = name in ALWAYS_QUIET or level > logging.DEBUG
        logging.getLogger(name).setLevel(max(logging.WARNING, level) if quiet else level)
    voice = logging.getLogger("discord.client")
    if not any(isinstance(existing, _NoVoiceWarnings) for existing in voice.filters):
        voice.addFilter(_NoVoiceWarnings())
