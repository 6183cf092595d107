-- The channel a thread belongs to, for answers given in a thread. Research data names that channel instead of
-- the thread: a thread started from a member's question has the question message's id, which names its author
-- in Discord (and every thread would be a "channel" of its own in the digest's breakdown).
ALTER TABLE answers ADD COLUMN thread_parent_id INTEGER;
