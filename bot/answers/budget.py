"""Each server's token use today, for the daily budget, without a database read per question.

The day's total is read from the answers table once per server and UTC day; answers that end afterwards
are added as they close. Counting stays close to the table's own sum: an answer is counted on the day it
started (as the table's `created_at` is), and one that closes while the day's total is being read may be
left out of the count (never counted twice), which errs on the member's side by one answer at most.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.storage import Storage, sqlite_timestamp


def utc_day(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(UTC).date()


@dataclass(slots=True)
class _Day:
    day: date
    used: int


class DailyTokens:
    """Tokens in and out of each server's answers since 00:00 UTC."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._days: dict[int, _Day] = {}

    async def used(self, guild_id: int, now: datetime | None = None) -> int:
        day = utc_day(now)
        known = self._days.get(guild_id)
        if known is not None and known.day == day:
            return known.used
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        used = await self._storage.tokens_used_since(guild_id, sqlite_timestamp(midnight))
        known = self._days.get(guild_id)
        if known is not None and known.day == day:
            return known.used  # another question read it meanwhile (and answers may have been added since)
        self._days[guild_id] = _Day(day, used)
        return used

    def add(self, guild_id: int, tokens: int, started: date) -> None:
        """An answer that started on `started` closed having used `tokens` (in and out)."""
        known = self._days.get(guild_id)
        if known is not None and known.day == started:
            known.used += tokens
