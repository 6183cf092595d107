"""The storage layer: all persistence goes through `Storage`; all SQL lives in its backends.

Only SQLite exists today (`SqliteStorage`); a PostgreSQL backend for sharded deployments would
implement the same methods.
"""

from __future__ import annotations

import logging

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

log = logging.getLogger(__name__)

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
            applied = await storage.migrate()
        except BaseException:
            await storage.close()
            raise
        if applied:
            # Some take a while on a large database (see README): the operator sees what ran.
            log.info(
                "database %s: applied migration(s) %s",
                settings.database_path,
                ", ".join(f"{migration.version:04d}_{migration.name}" for migration in applied),
            )
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
