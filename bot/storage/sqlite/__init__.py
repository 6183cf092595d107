"""The SQLite storage backend: every SQL statement culturebot runs lives in this package.

One aiosqlite connection in WAL mode serves the whole bot (connection.py). Writes run in short explicit
transactions; a method returns only after its transaction committed, so whatever the bot confirms to a
member is already durable. The statements are grouped by what they are about, one module each.
"""

from bot.storage.sqlite.answers import AnswersStore
from bot.storage.sqlite.comparisons import ComparisonsStore
from bot.storage.sqlite.connection import sqlite_timestamp
from bot.storage.sqlite.digests import DigestsStore
from bot.storage.sqlite.feedback import FeedbackStore


class SqliteStorage(AnswersStore, FeedbackStore, DigestsStore, ComparisonsStore):
    """culturebot's data, in one SQLite file."""


__all__ = ["SqliteStorage", "sqlite_timestamp"]
