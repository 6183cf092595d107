-- Member feedback with consent: consent decisions (current and history), reason tags, comments, and the
-- per-server research settings. Members appear only as keyed hashes.

CREATE TABLE consents (
    guild_id        INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    member_hash     TEXT NOT NULL,
    level           TEXT NOT NULL CHECK (level IN ('declined', 'ratings', 'comments', 'quotes')),
    consent_version TEXT NOT NULL,      -- the notice the member answered: "<bot text>.<server text>"
    dm_opt_in       INTEGER NOT NULL DEFAULT 0 CHECK (dm_opt_in IN (0, 1)),
    decided_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (guild_id, member_hash)
);

-- Every decision, for accountability: what was agreed to, under which text, when.
CREATE TABLE consent_events (
    event_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id        INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    member_hash     TEXT NOT NULL,
    level           TEXT NOT NULL,
    consent_version TEXT NOT NULL,
    decided_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX consent_events_by_member ON consent_events (member_hash);

CREATE TABLE rating_reasons (
    answer_id   INTEGER NOT NULL,
    rater_hash  TEXT NOT NULL,
    tag         TEXT NOT NULL,
    PRIMARY KEY (answer_id, rater_hash, tag),
    FOREIGN KEY (answer_id, rater_hash) REFERENCES ratings (answer_id, rater_hash) ON DELETE CASCADE
);

CREATE TABLE comments (
    comment_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id   INTEGER NOT NULL REFERENCES answers (answer_id) ON DELETE CASCADE,
    rater_hash  TEXT NOT NULL,
    text        TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('modal', 'reply')),
    -- the member allowed anonymous quoting when they wrote it
    quotable    INTEGER NOT NULL CHECK (quotable IN (0, 1)),
    -- the Discord message a reply-comment came from, so a redelivered event is stored once
    message_id  INTEGER UNIQUE,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    purged_at   TEXT
);
CREATE INDEX comments_by_answer ON comments (answer_id);
CREATE INDEX comments_by_rater ON comments (rater_hash);
CREATE INDEX ratings_by_rater ON ratings (rater_hash);
CREATE INDEX answers_by_asker ON answers (asker_hash);

-- When the raw text of an answer was removed by the retention job (its numbers are kept).
ALTER TABLE answers ADD COLUMN text_purged_at TEXT;

ALTER TABLE guild_settings ADD COLUMN research_contact TEXT;
ALTER TABLE guild_settings ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 180 CHECK (retention_days BETWEEN 7 AND 3650);
ALTER TABLE guild_settings ADD COLUMN consent_note TEXT;
ALTER TABLE guild_settings ADD COLUMN consent_revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE guild_settings ADD COLUMN rating_scale TEXT NOT NULL DEFAULT 'fit3' CHECK (rating_scale IN ('fit3', 'likert5'));
ALTER TABLE guild_settings ADD COLUMN rating_controls TEXT NOT NULL DEFAULT 'both'
    CHECK (rating_controls IN ('reactions', 'buttons', 'both'));
-- JSON list of reason tags offered after a rating
ALTER TABLE guild_settings ADD COLUMN reason_tags TEXT NOT NULL DEFAULT
    '["too generic", "stereotyped", "wrong register or formality", "factually wrong", "misses variation", "out of scope", "good nuance", "useful"]';
