-- Research digests: per-server schedule and channel, the research role, and one row per server and period,
-- written before the digest is sent, so that a restart never sends it twice.

ALTER TABLE guild_settings ADD COLUMN digest_enabled INTEGER NOT NULL DEFAULT 1 CHECK (digest_enabled IN (0, 1));
ALTER TABLE guild_settings ADD COLUMN digest_cron TEXT NOT NULL DEFAULT '0 9 * * mon';
ALTER TABLE guild_settings ADD COLUMN digest_timezone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE guild_settings ADD COLUMN digest_channel_id INTEGER;
ALTER TABLE guild_settings ADD COLUMN research_role_id INTEGER;

CREATE TABLE digests (
    digest_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id        INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    period_start    TEXT NOT NULL,
    period_end      TEXT NOT NULL,
    -- pending: claimed, being sent; sent: in the channel; undelivered: kept, the channel could not be used
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'undelivered')),
    channel_id      INTEGER,
    message_id      INTEGER,
    files_dir       TEXT,
    error           TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    sent_at         TEXT,
    UNIQUE (guild_id, period_end)
);
CREATE INDEX digests_by_guild ON digests (guild_id, period_end);
CREATE INDEX ratings_by_answer_time ON ratings (answer_id, updated_at);
