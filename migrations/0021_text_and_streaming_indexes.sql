-- The daily retention purge reads the rows that still hold text and are older than the latest servers' cutoff,
-- and the start-up closes the answers a crash left streaming: through these, not by reading every row of every
-- server under the write lock (bot/storage/sqlite/feedback.py, answers.py).
CREATE INDEX answers_with_text ON answers (created_at) WHERE text_purged_at IS NULL;
CREATE INDEX comments_with_text ON comments (created_at) WHERE purged_at IS NULL;
CREATE INDEX answers_streaming ON answers (answer_id) WHERE outcome = 'streaming';
