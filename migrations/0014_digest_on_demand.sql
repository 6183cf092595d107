-- Whether a digest was asked for with `/digest now` rather than made on schedule. A moderator's `/digest now` posts
-- even while scheduled digests are off; when its post fails on Discord's side, the retry must know it was asked
-- for, or it would be kept until digests are switched on again, though the moderator was told it is retried.
ALTER TABLE digests ADD COLUMN on_demand INTEGER NOT NULL DEFAULT 0 CHECK (on_demand IN (0, 1));
