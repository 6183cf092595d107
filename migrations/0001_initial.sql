-- The first loop: servers, answers (one row per answer, spread over one or more Discord messages)
-- and fit ratings. Members appear only as keyed hashes (see bot/pseudonyms.py), never as Discord ids.

-- Small facts the bot keeps about itself, e.g. the hash of the last synced command set.
CREATE TABLE bot_state (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE guilds (
    guild_id    INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    joined_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE answers (
    answer_id           INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id            INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    channel_id          INTEGER NOT NULL,
    question_message_id INTEGER,
    asker_hash          TEXT NOT NULL,
    question            TEXT NOT NULL,
    answer              TEXT NOT NULL DEFAULT '',
    model               TEXT NOT NULL,
    -- streaming while the model is writing; ok, incomplete (cut mid-way), failed, refused (limits)
    outcome             TEXT NOT NULL DEFAULT 'streaming'
                        CHECK (outcome IN ('streaming', 'ok', 'incomplete', 'failed', 'refused')),
    error               TEXT,
    tokens_in           INTEGER,
    tokens_out          INTEGER,
    tokens_estimated    INTEGER NOT NULL DEFAULT 0 CHECK (tokens_estimated IN (0, 1)),
    ttft_ms             INTEGER,
    total_ms            INTEGER,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at         TEXT
);
CREATE INDEX answers_by_guild_time ON answers (guild_id, created_at);

-- Every Discord message an answer occupies (long answers continue in new messages).
CREATE TABLE answer_messages (
    message_id  INTEGER PRIMARY KEY,
    answer_id   INTEGER NOT NULL REFERENCES answers (answer_id) ON DELETE CASCADE,
    channel_id  INTEGER NOT NULL,
    part        INTEGER NOT NULL,
    UNIQUE (answer_id, part)
);

-- One rating per member per answer: a new reaction replaces the old one.
CREATE TABLE ratings (
    answer_id   INTEGER NOT NULL REFERENCES answers (answer_id) ON DELETE CASCADE,
    rater_hash  TEXT NOT NULL,
    value       INTEGER NOT NULL CHECK (value BETWEEN 1 AND 5),
    scale_size  INTEGER NOT NULL CHECK (scale_size BETWEEN 2 AND 5),
    is_asker    INTEGER NOT NULL CHECK (is_asker IN (0, 1)),
    source      TEXT NOT NULL CHECK (source IN ('reaction', 'button')),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (answer_id, rater_hash)
);
