"""Scope versions, per-server settings and the audit log."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aiosqlite

from bot.storage.records import (
    AuditEntry,
    Comparison,
    GuildSettings,
    NewScopeVersion,
    ScopeChange,
    ScopeCleared,
    ScopeSource,
    ScopeVersion,
    StaleScope,
)
from bot.storage.sqlite.cache import MISSING
from bot.storage.sqlite.connection import (
    SqliteConnection,
    ensure_guild_row,
    fetch_all,
    fetch_one,
    write_audit,
)

# A comparison's arms are the current version and another: once the current version changes, the arms are
# no longer what was being compared.
SCOPE_CHANGED = "the server's scope changed"


async def running_comparison_id(conn: aiosqlite.Connection, guild_id: int) -> int | None:
    """The id of the server's running comparison, if any."""
    row = await fetch_one(
        conn, "SELECT comparison_id FROM comparisons WHERE guild_id = ? AND ended_at IS NULL", (guild_id,)
    )
    return None if row is None else int(row[0])


async def end_running_comparison(
    conn: aiosqlite.Connection, guild_id: int, actor_id: int, reason: str, only: int | None = None
) -> Comparison | None:
    """End the server's running comparison, if any (and if it is comparison `only`, when given), in the caller's
    transaction and audit it; it, as ended."""
    running = await running_comparison_id(conn, guild_id)
    if running is None or (only is not None and running != only):
        return None
    await conn.execute(
        "UPDATE comparisons SET ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), end_reason = ? "
        "WHERE comparison_id = ?",
        (reason, running),
    )
    await write_audit(conn, guild_id, actor_id, "comparison.end", f"comparison {running} ended: {reason}")
    return await load_comparison(conn, running)


_COMPARISON_COLUMNS = (
    "SELECT comparison_id, guild_id, current_version_id, alternative_version_id, alternative_share, started_by, "
    "started_at, ended_at, end_reason FROM comparisons"
)


async def load_comparison(conn: aiosqlite.Connection, comparison_id: int) -> Comparison:
    """A stored comparison with both of its versions."""
    row = await fetch_one(conn, _COMPARISON_COLUMNS + " WHERE comparison_id = ?", (comparison_id,))
    assert row is not None
    versions = {
        int(version[0]): scope_version_of(version)
        for version in await fetch_all(conn, SCOPE_COLUMNS + " WHERE version_id IN (?, ?)", (row[2], row[3]))
    }
    return Comparison(
        comparison_id=int(row[0]),
        guild_id=int(row[1]),
        current=versions[int(row[2])],
        alternative=versions[int(row[3])],
        alternative_share=float(row[4]),
        started_by=int(row[5]),
        started_at=str(row[6]),
        ended_at=row[7],
        end_reason=row[8],
    )


class ScopesStore(SqliteConnection):
    """Scope versions, per-server settings and the audit log."""

    # Scopes

    async def add_scope_version(self, new: NewScopeVersion) -> ScopeChange:
        """Store a new immutable version, make it the server's current scope, and audit the change; a running
        comparison ends with it (the change says which).

        The version number is taken inside the write transaction, so two moderators changing the
        scope at the same moment get consecutive numbers and neither version is lost.
        """
        digest = hashlib.sha256(new.content.encode()).hexdigest()
        async with self._transaction() as conn:
            await ensure_guild_row(conn, new.guild_id)
            if new.based_on is not None:
                async with conn.execute(
                    "SELECT current_scope_id FROM guild_settings WHERE guild_id = ?", (new.guild_id,)
                ) as rows:
                    row = await rows.fetchone()
                if row is None or row[0] != new.based_on:
                    raise StaleScope(f"server {new.guild_id}'s current scope is no longer version id {new.based_on}")
            cursor = await conn.execute(
                "INSERT INTO scope_versions (guild_id, number, scope_id, title, content, content_sha256, source, "
                "change_summary, author_id) SELECT ?, coalesce(max(number), 0) + 1, ?, ?, ?, ?, ?, ?, ? "
                "FROM scope_versions WHERE guild_id = ?",
                (
                    new.guild_id,
                    new.scope_id,
                    new.title,
                    new.content,
                    digest,
                    new.source.value,
                    new.change_summary,
                    new.author_id,
                    new.guild_id,
                ),
            )
            version_id = cursor.lastrowid
            await conn.execute(
                "INSERT INTO guild_settings (guild_id, current_scope_id) VALUES (?, ?) ON CONFLICT (guild_id) "
                "DO UPDATE SET current_scope_id = excluded.current_scope_id, "
                "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (new.guild_id, version_id),
            )
            async with conn.execute(SCOPE_COLUMNS + " WHERE version_id = ?", (version_id,)) as rows:
                row = await rows.fetchone()
            assert row is not None
            version = scope_version_of(row)
            await write_audit(
                conn,
                new.guild_id,
                new.author_id,
                f"scope.{new.source.value}",
                f"version {version.number} ({version.scope_id}): {new.change_summary}",
            )
            ended = await end_running_comparison(conn, new.guild_id, new.author_id, SCOPE_CHANGED)
        self._guild_cache.invalidate(new.guild_id)
        return ScopeChange(version, ended)

    async def current_scope(self, guild_id: int) -> ScopeVersion | None:
        cached = self._guild_cache.get("scope", guild_id)
        if cached is not MISSING:
            return cached  # type: ignore[no-any-return]
        generation = self._guild_cache.generation(guild_id)
        row = await self._fetchone(
            SCOPE_COLUMNS + " WHERE version_id = (SELECT current_scope_id FROM guild_settings WHERE guild_id = ?)",
            (guild_id,),
        )
        version = None if row is None else scope_version_of(row)
        self._guild_cache.put("scope", guild_id, generation, version)
        return version

    async def scope_version(self, guild_id: int, number: int) -> ScopeVersion | None:
        row = await self._fetchone(SCOPE_COLUMNS + " WHERE guild_id = ? AND number = ?", (guild_id, number))
        return None if row is None else scope_version_of(row)

    async def scope_history(self, guild_id: int, limit: int = 25) -> list[ScopeVersion]:
        """The server's scope versions, newest first."""
        rows = await self._fetchall(
            SCOPE_COLUMNS + " WHERE guild_id = ? ORDER BY number DESC LIMIT ?", (guild_id, limit)
        )
        return [scope_version_of(row) for row in rows]

    async def clear_scope(self, guild_id: int, actor_id: int) -> ScopeCleared | None:
        """Unset the current scope (versions are kept), ending a running comparison; None if none was set."""
        try:
            async with self._transaction() as conn:
                cursor = await conn.execute(
                    "UPDATE guild_settings SET current_scope_id = NULL, "
                    "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                    "WHERE guild_id = ? AND current_scope_id IS NOT NULL",
                    (guild_id,),
                )
                if cursor.rowcount == 0:
                    return None
                await write_audit(conn, guild_id, actor_id, "scope.clear", "the server has no declared scope now")
                return ScopeCleared(await end_running_comparison(conn, guild_id, actor_id, SCOPE_CHANGED))
        finally:
            self._guild_cache.invalidate(guild_id)

    # Per-server settings and the audit log

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        cached = self._guild_cache.get("settings", guild_id)
        if cached is not MISSING:
            return cached  # type: ignore[no-any-return]
        generation = self._guild_cache.generation(guild_id)
        settings = await self._read_guild_settings(guild_id)
        self._guild_cache.put("settings", guild_id, generation, settings)
        return settings

    async def _read_guild_settings(self, guild_id: int) -> GuildSettings:
        row = await self._fetchone(
            "SELECT guild_id, current_scope_id, allow_unscoped, log_channel_id, research_contact, retention_days, "
            "consent_note, consent_revision, rating_scale, rating_controls, reason_tags, answer_channels, "
            "cooldown_seconds, daily_token_budget, instructions, answer_language, digest_enabled, digest_cron, "
            "digest_timezone, digest_channel_id, research_role_id, answer_in_threads, digest_data_files "
            "FROM guild_settings WHERE guild_id = ?",
            (guild_id,),
        )
        if row is None:
            return GuildSettings(guild_id=guild_id)
        return GuildSettings(
            guild_id=int(row[0]),
            current_scope_id=row[1],
            allow_unscoped=bool(row[2]),
            log_channel_id=row[3],
            research_contact=row[4],
            retention_days=int(row[5]),
            consent_note=row[6],
            consent_revision=int(row[7]),
            rating_scale=str(row[8]),
            rating_controls=str(row[9]),
            reason_tags=tuple(json.loads(row[10])),
            answer_channels=tuple(int(channel) for channel in json.loads(row[11])),
            cooldown_seconds=int(row[12]),
            daily_token_budget=int(row[13]),
            instructions=row[14],
            answer_language=row[15],
            digest_enabled=bool(row[16]),
            digest_cron=str(row[17]),
            digest_timezone=str(row[18]),
            digest_channel_id=row[19],
            research_role_id=row[20],
            answer_in_threads=bool(row[21]),
            digest_data_files=bool(row[22]),
        )

    async def update_guild_settings(
        self, guild_id: int, actor_id: int, changes: dict[str, Any], *, detail: str
    ) -> GuildSettings:
        """Change settings columns and audit it in one transaction; `reason_tags` takes a list."""
        for column in ("reason_tags", "answer_channels"):
            if column in changes:
                changes = {**changes, column: json.dumps(list(changes[column]), ensure_ascii=False)}
        unknown = set(changes) - _GUILD_SETTING_COLUMNS
        if unknown:
            raise ValueError(f"not a server setting: {', '.join(sorted(unknown))}")
        try:
            async with self._transaction() as conn:
                await ensure_guild_row(conn, guild_id)
                await conn.execute(
                    "INSERT INTO guild_settings (guild_id) VALUES (?) ON CONFLICT DO NOTHING", (guild_id,)
                )
                if changes:
                    assignments = ", ".join(f"{column} = ?" for column in changes)
                    await conn.execute(
                        f"UPDATE guild_settings SET {assignments}, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                        "WHERE guild_id = ?",
                        (*changes.values(), guild_id),
                    )
                await write_audit(conn, guild_id, actor_id, "settings.update", detail)
        finally:
            self._guild_cache.invalidate(guild_id)
        return await self.guild_settings(guild_id)

    async def add_audit(self, guild_id: int, actor_id: int, action: str, detail: str = "") -> None:
        async with self._transaction() as conn:
            await ensure_guild_row(conn, guild_id)
            await write_audit(conn, guild_id, actor_id, action, detail)

    async def last_audit_time(self, guild_id: int, action: str, detail_prefix: str = "") -> str | None:
        """When the server's newest audit entry of `action` whose detail starts with `detail_prefix` was made."""
        row = await self._fetchone(
            "SELECT max(created_at) FROM audit_log WHERE guild_id = ? AND action = ? AND substr(detail, 1, ?) = ?",
            (guild_id, action, len(detail_prefix), detail_prefix),
        )
        return None if row is None or row[0] is None else str(row[0])

    async def audit_entries(self, guild_id: int, limit: int = 50) -> list[AuditEntry]:
        """The server's audit log, newest first."""
        rows = await self._fetchall(
            "SELECT guild_id, actor_id, action, detail, created_at FROM audit_log WHERE guild_id = ? "
            "ORDER BY entry_id DESC LIMIT ?",
            (guild_id, limit),
        )
        return [AuditEntry(int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]


_GUILD_SETTING_COLUMNS = {
    "allow_unscoped",
    "log_channel_id",
    "research_contact",
    "retention_days",
    "consent_note",
    "consent_revision",
    "rating_scale",
    "rating_controls",
    "reason_tags",
    "answer_channels",
    "cooldown_seconds",
    "daily_token_budget",
    "instructions",
    "answer_language",
    "digest_enabled",
    "digest_cron",
    "digest_timezone",
    "digest_channel_id",
    "research_role_id",
    "answer_in_threads",
    "digest_data_files",
}


SCOPE_COLUMNS = (
    "SELECT version_id, guild_id, number, scope_id, title, content, content_sha256, source, change_summary, "
    "author_id, created_at FROM scope_versions"
)


def scope_version_of(row: aiosqlite.Row) -> ScopeVersion:
    return ScopeVersion(
        version_id=int(row[0]),
        guild_id=int(row[1]),
        number=int(row[2]),
        scope_id=str(row[3]),
        title=str(row[4]),
        content=str(row[5]),
        content_sha256=str(row[6]),
        source=ScopeSource(row[7]),
        change_summary=str(row[8]),
        author_id=int(row[9]),
        created_at=str(row[10]),
    )
