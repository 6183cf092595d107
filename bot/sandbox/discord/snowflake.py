"""Discord-style snowflake ids: strictly increasing and carrying their creation time."""

from __future__ import annotations

import datetime
import time

DISCORD_EPOCH_MS = 1_420_070_400_000


class SnowflakeFactory:
    """Hands out snowflakes that increase strictly, even when several are made in the same millisecond."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        now_ms = int(time.time() * 1000)
        candidate = (now_ms - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last


def snowflake_time(snowflake: int) -> datetime.datetime:
    """The moment a snowflake was made."""
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)


def iso_timestamp(moment: datetime.datetime | None = None) -> str:
    """An ISO-8601 timestamp as Discord writes it."""
    return (moment or datetime.datetime.now(datetime.UTC)).isoformat()
