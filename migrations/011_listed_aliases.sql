-- Aliases of every length are listed: a backend answers 404 for an
-- alias-shaped path that is in no list without asking Postgres (a storm of
-- random paths of other lengths than 7 cost a lookup each). 7-character
-- aliases go on to codes:aliases for the edge, the others to
-- codes:aliases:other for the backends. Every link whose code is not 7
-- characters long is an alias: generated codes always are.
ALTER TABLE edge_aliases DROP CONSTRAINT edge_aliases_code_check;
ALTER TABLE edge_aliases ADD CONSTRAINT edge_aliases_code_check CHECK (code ~ '^[A-Za-z0-9_-]{3,64}$');
INSERT INTO edge_aliases (code)
SELECT short_code FROM url_mappings WHERE length(short_code) <> 7
ON CONFLICT DO NOTHING;

---- create above / drop below ----

DELETE FROM edge_aliases WHERE length(code) <> 7;
ALTER TABLE edge_aliases DROP CONSTRAINT edge_aliases_code_check;
ALTER TABLE edge_aliases ADD CONSTRAINT edge_aliases_code_check CHECK (code ~ '^[A-Za-z0-9_-]{7}$');
