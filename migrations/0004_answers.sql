-- Thick, anchored answers: conversations through reply chains, what the prompt was built from, and the
-- per-server answering settings (channels, limits, instructions, language).

-- The answer this question continued (a reply to one of the bot's answers), for conversation history.
ALTER TABLE answers ADD COLUMN parent_answer_id INTEGER REFERENCES answers (answer_id) ON DELETE SET NULL;
-- JSON: the cues found in the question (language, addressee, setting, ...)
ALTER TABLE answers ADD COLUMN cues TEXT;
-- JSON list of the scope sections put into the prompt
ALTER TABLE answers ADD COLUMN sections TEXT;
-- SHA-256 of the exact messages sent to the model
ALTER TABLE answers ADD COLUMN prompt_sha256 TEXT;
ALTER TABLE answers ADD COLUMN ephemeral INTEGER NOT NULL DEFAULT 0 CHECK (ephemeral IN (0, 1));

-- JSON list of channel ids where the bot answers; empty means every channel it can read
ALTER TABLE guild_settings ADD COLUMN answer_channels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE guild_settings ADD COLUMN cooldown_seconds INTEGER NOT NULL DEFAULT 10
    CHECK (cooldown_seconds BETWEEN 0 AND 3600);
ALTER TABLE guild_settings ADD COLUMN daily_token_budget INTEGER NOT NULL DEFAULT 200000
    CHECK (daily_token_budget BETWEEN 0 AND 100000000);
-- Extra instructions from the moderators, added to the system message after the scope
ALTER TABLE guild_settings ADD COLUMN instructions TEXT;
-- BCP-47 tag: always answer in this language (NULL: in the member's language)
ALTER TABLE guild_settings ADD COLUMN answer_language TEXT;

CREATE INDEX answers_by_parent ON answers (parent_answer_id);
