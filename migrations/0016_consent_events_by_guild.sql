-- A digest reads a server's consent decisions made before the period's end (who took part, declined or
-- withdrew). consent_events was indexed by member only, so each digest read scanned every server's decisions:
-- a cost that grows with the whole deployment, paid by every server's digest, twice (the period and the one
-- before it).
CREATE INDEX consent_events_by_guild_time ON consent_events (guild_id, decided_at);
