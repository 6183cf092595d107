-- Answer in a thread the bot starts from the question, so each conversation has its own place.
ALTER TABLE guild_settings ADD COLUMN answer_in_threads INTEGER NOT NULL DEFAULT 0 CHECK (answer_in_threads IN (0, 1));
CREATE INDEX answers_by_channel ON answers (channel_id, answer_id);
