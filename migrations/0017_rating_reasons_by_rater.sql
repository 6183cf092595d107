-- `/privacy forget` deletes a member's reason tags by their pseudonym: without an index that read every server's
-- reasons while the request held the database. (Reasons are also deleted with their rating, by the foreign key;
-- the statement by pseudonym also reaches any left without one.)
CREATE INDEX rating_reasons_by_rater ON rating_reasons (rater_hash);
