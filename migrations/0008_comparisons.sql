-- Randomized comparisons of two scope versions: while one runs, each member is assigned at random (by a hash of
-- their keyed pseudonym and the comparison's id, so the same member always gets the same arm) to the server's
-- current version or to an alternative version, and every answer records its comparison and arm. Digests
-- compare the arms' fit: unlike before/after comparisons of versions, the arms share the same period, questions
-- and raters.
CREATE TABLE comparisons (
    comparison_id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id               INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    current_version_id     INTEGER NOT NULL REFERENCES scope_versions (version_id),
    alternative_version_id INTEGER NOT NULL REFERENCES scope_versions (version_id),
    -- the share of members answered under the alternative version
    alternative_share      REAL NOT NULL CHECK (alternative_share > 0 AND alternative_share < 1),
    started_by             INTEGER NOT NULL,
    started_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ended_at               TEXT,
    end_reason             TEXT,
    CHECK (current_version_id <> alternative_version_id)
);
-- At most one comparison runs per server.
CREATE UNIQUE INDEX comparisons_running ON comparisons (guild_id) WHERE ended_at IS NULL;

ALTER TABLE answers ADD COLUMN comparison_id INTEGER REFERENCES comparisons (comparison_id);
-- 'current' or 'alternative' when the answer was part of a comparison (and then only then)
ALTER TABLE answers ADD COLUMN arm TEXT
    CHECK (arm IN ('current', 'alternative') AND comparison_id IS NOT NULL OR arm IS NULL AND comparison_id IS NULL);
