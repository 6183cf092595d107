-- Whether each digest posted in the digest channel carries the period's data files (data.zip: every comment,
-- quotable or not, under pseudonyms). Moderators whose digest channel is read by more than the research team can
-- leave them out (`/digest channel data_files:False`); the research role then gets them with `/research-export`.
ALTER TABLE guild_settings ADD COLUMN digest_data_files INTEGER NOT NULL DEFAULT 1 CHECK (digest_data_files IN (0, 1));
