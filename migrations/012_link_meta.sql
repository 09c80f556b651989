-- What describes a link besides its target: tags (normalized by the
-- backend: lowercase, at most 20 of at most 64 characters), a title, the
-- time it starts to redirect (valid_since; expires_at is its end) and
-- whether /robots.txt lets crawlers follow it. Constant defaults: adding
-- them rewrites no row.
ALTER TABLE url_mappings
    ADD COLUMN tags        text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN title       text,
    ADD COLUMN valid_since timestamptz,
    ADD COLUMN crawlable   boolean     NOT NULL DEFAULT false;

-- Filters by tag (tags && / @> a list); crawlable links for /robots.txt.
CREATE INDEX url_mappings_tags ON url_mappings USING gin (tags);
CREATE INDEX url_mappings_crawlable ON url_mappings (short_code) WHERE crawlable;

---- create above / drop below ----

DROP INDEX url_mappings_crawlable;
DROP INDEX url_mappings_tags;
ALTER TABLE url_mappings
    DROP COLUMN crawlable,
    DROP COLUMN valid_since,
    DROP COLUMN title,
    DROP COLUMN tags;
