-- Where the period a scheduled digest is compared with starts, as worked out when the period was claimed: a digest
-- made again later (its making failed, or a deletion made it stale) compares with the same period even after the
-- server's schedule changed. NULL for digests claimed before this: worked out from the schedule when made.
ALTER TABLE digests ADD COLUMN compared_from TEXT;
