"""Logging set-up: one format for the bot and discord.py; secrets are never passed to a logger."""

from __future__ import annotations

import logging

from bot.config import LogLevel


def setup_logging(level: LogLevel) -> None:
    logging.basicConfig(
        level=level.value,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    # httpx logs every request line at INFO, model URL included; that is noise at our INFO.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(level.value)))
