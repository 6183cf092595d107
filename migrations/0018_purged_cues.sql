-- The retention purge empties a question's text and, from this version on, what was read from its words too (whom
-- the member talks to, the identities and places they named), keeping only its language and setting, which the
-- digests break ratings down by (bot/storage/sqlite/feedback.py, PURGED_CUES). Answers purged before kept all of it.
UPDATE answers
SET cues = CASE WHEN json_valid(cues) THEN json_object(
    'language', json_extract(cues, '$.language'),
    'setting', json_extract(cues, '$.setting')
) END
WHERE text_purged_at IS NOT NULL AND cues IS NOT NULL;
