"""Each server's token use today, for the daily budget, without a database read per question.

The day's total is read from the database once per server and UTC day (answers, and moderators' `/scope preview`,
which costs what an answer costs); answers and previews that end afterwards are added as they close. Counting
stays close to the database's own sum: each is counted on the day it started (as the answers table's
`created_at` is), and one that closes while the day's total is being read may be left out of the count (never
counted twice), which errs on the member's side by one answer at most.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.storage import Storage, sqlite_timestamp


def utc_day(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(UTC).date()


def renewal(now: datetime | None = None) -> str:
    """When the daily budget renews (the next 00:00 UTC), as Discord shows a time to each reader: "in 3 hours"."""
    midnight = datetime.combine(utc_day(now) + timedelta(days=1), time(), tzinfo=UTC)
    return f"<t:{int(midnight.timestamp())}:R>"


@dataclass(slots=True)
class _Day:
    day: date
    used: int


class DailyTokens:
    """Tokens in and out of each server's answers since 00:00 UTC."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._days: dict[int, _Day] = {}
        self._held: dict[int, int] = {}  # tokens set aside for answers being written, by server

    def held(self, guild_id: int) -> int:
        """Tokens set aside for the server's answers being written (their use is known only once they end)."""
        return self._held.get(guild_id, 0)

    def hold(self, guild_id: int, tokens: int) -> None:
        """Set `tokens` aside for an answer about to be written: without this, questions asked together all pass
        the budget check before any of them has used anything, and overshoot it many times over."""
        self._held[guild_id] = self.held(guild_id) + tokens

    def release(self, guild_id: int, tokens: int) -> None:
        """An answer's tokens set aside with `hold` are no longer needed (it ended, and `add` counted its use)."""
        left = self.held(guild_id) - tokens
        if left > 0:
            self._held[guild_id] = left
        else:
            self._held.pop(guild_id, None)

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
