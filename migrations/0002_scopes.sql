-- Declared cultural scopes: immutable versions per server, the current one, per-server settings and an
-- audit log of moderator actions. Moderators are named by Discord id here: their actions are official
-- acts that the community can hold to account, not research data.

CREATE TABLE scope_versions (
    version_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id        INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    number          INTEGER NOT NULL,               -- 1, 2, 3... within the server
    scope_id        TEXT NOT NULL,                  -- the file's `id`
    title           TEXT NOT NULL,
    content         TEXT NOT NULL,                  -- the canonical scope file
    content_sha256  TEXT NOT NULL,
    source          TEXT NOT NULL CHECK (source IN ('template', 'upload', 'edit', 'rollback')),
    change_summary  TEXT NOT NULL,
    author_id       INTEGER NOT NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (guild_id, number)
);

CREATE TABLE guild_settings (
    guild_id            INTEGER PRIMARY KEY REFERENCES guilds (guild_id) ON DELETE CASCADE,
    -- NULL: no scope declared (or cleared)
    current_scope_id    INTEGER REFERENCES scope_versions (version_id),
    allow_unscoped      INTEGER NOT NULL DEFAULT 0 CHECK (allow_unscoped IN (0, 1)),
    log_channel_id      INTEGER,
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE audit_log (
    entry_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    actor_id    INTEGER NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX audit_log_by_guild_time ON audit_log (guild_id, created_at);

-- Every answer records the scope version it was given (NULL: answered without a declared scope).
ALTER TABLE answers ADD COLUMN scope_version_id INTEGER REFERENCES scope_versions (version_id);
