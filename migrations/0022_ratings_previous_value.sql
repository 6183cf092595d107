-- The value a rating had before the member changed it, while the scale stayed the same: the reaction they changed
-- from may still be on the answer, and taking back the newer one makes it the rating again. A reaction whose time
-- Discord does not say becomes a rating only as this value (or where consent covered the answer since it was
-- posted): one from before a decline or a forget request, which delete ratings, never does. NULL: none.
ALTER TABLE ratings ADD COLUMN previous_value INTEGER;
