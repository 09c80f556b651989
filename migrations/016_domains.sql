-- Short domains (KURZ_DOMAINS): a link belongs to one, and a code is unique
-- on its domain. '' is the default domain, the list's first entry: every
-- link made before lands on it with its code. A constant default rewrites
-- no row; the unique index replaces the one on the code alone. Caches, hits,
-- visits, invalidations and listed aliases name a link by its key: the code
-- on the default domain, "{domain}/{code}" on another.
ALTER TABLE url_mappings ADD COLUMN domain text NOT NULL DEFAULT '';
ALTER TABLE url_mappings ADD CONSTRAINT url_mappings_domain_code_key UNIQUE (domain, short_code);
ALTER TABLE url_mappings DROP CONSTRAINT url_mappings_short_code_key;
DROP INDEX url_mappings_crawlable;
CREATE INDEX url_mappings_crawlable ON url_mappings (domain, short_code) WHERE crawlable;
-- Listed aliases are keys too.
ALTER TABLE edge_aliases DROP CONSTRAINT edge_aliases_code_check;
ALTER TABLE edge_aliases ADD CONSTRAINT edge_aliases_code_check CHECK (code ~ '^([a-z0-9.-]{1,253}/)?[A-Za-z0-9_-]{3,64}$');

---- create above / drop below ----

DELETE FROM url_mappings WHERE domain <> '';
DELETE FROM edge_aliases WHERE code LIKE '%/%';
ALTER TABLE edge_aliases DROP CONSTRAINT edge_aliases_code_check;
ALTER TABLE edge_aliases ADD CONSTRAINT edge_aliases_code_check CHECK (code ~ '^[A-Za-z0-9_-]{3,64}$');
DROP INDEX url_mappings_crawlable;
CREATE INDEX url_mappings_crawlable ON url_mappings (short_code) WHERE crawlable;
ALTER TABLE url_mappings ADD CONSTRAINT url_mappings_short_code_key UNIQUE (short_code);
ALTER TABLE url_mappings DROP CONSTRAINT url_mappings_domain_code_key;
ALTER TABLE url_mappings DROP COLUMN domain;
