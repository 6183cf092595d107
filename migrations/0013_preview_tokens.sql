-- Tokens spent on moderators' `/scope preview`: they cost what an answer costs, so they count toward the server's
-- daily token budget (which sums the day's answers and these rows). Only the count and when the preview started
-- are kept, not its question, answer or moderator; rows older than the budget could need are dropped as new ones
-- come.
CREATE TABLE preview_tokens (
    preview_id  INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    tokens      INTEGER NOT NULL CHECK (tokens >= 0),
    started_at  TEXT NOT NULL
);
CREATE INDEX preview_tokens_by_guild_time ON preview_tokens (guild_id, started_at);
