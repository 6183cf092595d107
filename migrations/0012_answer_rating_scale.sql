-- The rating scale an answer's controls were shown with (fit3, likert5): reactions on it are read with that
-- scale after the server changes its scale, as its buttons already are (they carry their scale's size).
-- NULL for answers recorded before this column existed, and for those refused before the model was asked: the
-- server's current scale stands in for them.
ALTER TABLE answers ADD COLUMN rating_scale TEXT;
