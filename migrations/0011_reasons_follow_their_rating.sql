-- A rating's reason tags explain that rating: when the member changes its value (by button, reaction or the
-- reaction catch-up), the reasons given for the old value no longer describe it and are dropped with it, as a
-- deleted rating's are (ON DELETE CASCADE). The member is offered the reasons menu again with the new rating.
-- A trigger, so that every way a rating changes does it in the same statement as the change.
CREATE TRIGGER reasons_follow_their_rating AFTER UPDATE OF value ON ratings
WHEN old.value != new.value
BEGIN
    DELETE FROM rating_reasons WHERE answer_id = new.answer_id AND rater_hash = new.rater_hash;
END;

-- Reasons already kept with a rating changed since they were given cannot be told apart now: left as they are.
