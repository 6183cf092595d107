"""The storage layer: all persistence goes through `Storage`; all SQL lives in its backends.

Only SQLite exists today (`SqliteStorage`); a PostgreSQL backend for sharded deployments would
implement the same methods.
"""

from __future__ import annotations

from bot.config import DatabaseBackend, Settings
from bot.storage.migrations import MigrationError
from bot.storage.records import (
    DEFAULT_REASON_TAGS,
    SYSTEM_ACTOR,
    AnswerRecord,
    AnswerResult,
    Arm,
    AuditEntry,
    CommentSource,
    Comparison,
    Consent,
    ConsentChanged,
    ConsentLevel,
    DigestRecord,
    DigestStatus,
    Forgotten,
    GuildSettings,
    InterruptedAnswer,
    NewAnswer,
    NewComment,
    NewScopeVersion,
    Outcome,
    Rating,
    RatingSource,
    ScopeChange,
    ScopeCleared,
    ScopeSource,
    ScopeVersion,
    StaleScope,
)
from bot.storage.sqlite import SqliteStorage, sqlite_timestamp

# The narrow interface the rest of the bot depends on. An alias for now; it becomes a Protocol the
# day a second backend exists.
Storage = SqliteStorage


async def open_storage(settings: Settings, *, migrate: bool = True) -> Storage:
    """Open the configured backend and, unless told otherwise, bring its schema up to date."""
    if settings.database_backend is not DatabaseBackend.SQLITE:  # pragma: no cover - one backend today
        raise ValueError(f"unsupported database backend {settings.database_backend}")
    storage = await SqliteStorage.open(settings.database_path)
    if migrate:
        try:
            await storage.migrate()
        except BaseException:
            await storage.close()
            raise
    return storage


__all__ = [
    "DEFAULT_REASON_TAGS",
    "SYSTEM_ACTOR",
    "AnswerRecord",
    "AnswerResult",
    "Arm",
    "AuditEntry",
    "CommentSource",
    "Comparison",
    "Consent",
    "ConsentChanged",
    "ConsentLevel",
    "DigestRecord",
    "DigestStatus",
    "Forgotten",
    "GuildSettings",
    "InterruptedAnswer",
    "MigrationError",
    "NewAnswer",
    "NewComment",
    "NewScopeVersion",
    "Outcome",
    "Rating",
    "RatingSource",
    "ScopeChange",
    "ScopeCleared",
    "ScopeSource",
    "ScopeVersion",
    "SqliteStorage",
    "StaleScope",
    "Storage",
    "open_storage",
    "sqlite_timestamp",
]
