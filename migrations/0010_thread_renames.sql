-- Threads named after a question whose text was deleted (/privacy forget, the retention purge): the bot renames
-- them on Discord, and keeps them here until that worked, so that a rename that failed (Discord out of reach, a
-- permission missing for a while) is tried again. `attempts` counts the failures; at a limit the thread is left.
CREATE TABLE threads_to_rename (
    thread_id INTEGER PRIMARY KEY,
    guild_id  INTEGER NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 0,
    added_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- The threads of questions purged before this table existed.
INSERT INTO threads_to_rename (thread_id, guild_id)
SELECT DISTINCT channel_id, guild_id FROM answers WHERE channel_id = question_message_id AND text_purged_at IS NOT NULL;
