-- Ratings are stored in their primary key's order (answer, member) rather than by rowid: a digest reads every
-- rating of a period's answers, which were spread over the whole table in the order they came in and each had
-- to be found through the key's index first. The columns, constraints and indexes are those of before.
-- rating_reasons refers to ratings: dropping the old table deletes its reasons (ON DELETE CASCADE), so they are
-- kept aside while the table is rebuilt.

CREATE TEMP TABLE kept_reasons AS SELECT answer_id, rater_hash, tag FROM rating_reasons;
-- Emptied here rather than by the cascade, so that the script also works with foreign keys off.
DELETE FROM rating_reasons;

CREATE TABLE ratings_by_key (
    answer_id   INTEGER NOT NULL REFERENCES answers (answer_id) ON DELETE CASCADE,
    rater_hash  TEXT NOT NULL,
    value       INTEGER NOT NULL CHECK (value BETWEEN 1 AND 5),
    scale_size  INTEGER NOT NULL CHECK (scale_size BETWEEN 2 AND 5),
    is_asker    INTEGER NOT NULL CHECK (is_asker IN (0, 1)),
    source      TEXT NOT NULL CHECK (source IN ('reaction', 'button')),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (answer_id, rater_hash)
) WITHOUT ROWID;
INSERT INTO ratings_by_key (answer_id, rater_hash, value, scale_size, is_asker, source, created_at, updated_at)
    SELECT answer_id, rater_hash, value, scale_size, is_asker, source, created_at, updated_at FROM ratings;
DROP TABLE ratings;
ALTER TABLE ratings_by_key RENAME TO ratings;
CREATE INDEX ratings_by_rater ON ratings (rater_hash);
CREATE INDEX ratings_by_answer_time ON ratings (answer_id, updated_at);

INSERT INTO rating_reasons (answer_id, rater_hash, tag) SELECT answer_id, rater_hash, tag FROM kept_reasons;
DROP TABLE kept_reasons;
