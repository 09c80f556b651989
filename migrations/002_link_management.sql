-- Link management: aliases (3 to 64 code characters), expiry, visit limits,
-- a redirect status per link, and API keys stored as SHA-256 hashes.
ALTER TABLE url_mappings DROP CONSTRAINT url_mappings_short_code_shape;
ALTER TABLE url_mappings ADD CONSTRAINT url_mappings_short_code_shape CHECK (short_code ~ '^[A-Za-z0-9_-]{3,64}$');

ALTER TABLE url_mappings
    ADD COLUMN expires_at      timestamptz,
    ADD COLUMN max_visits      bigint   CHECK (max_visits > 0),
    ADD COLUMN redirect_status smallint CHECK (redirect_status IN (301, 302, 307, 308)),
    -- Plain links (a URL, nothing else) share one code per URL; links with an
    -- alias or options, or whose target was changed, stand alone.
    ADD COLUMN dedup           boolean     NOT NULL DEFAULT true,
    ADD COLUMN updated_at      timestamptz NOT NULL DEFAULT now();

ALTER TABLE url_mappings DROP CONSTRAINT url_mappings_url_hash_key;
CREATE UNIQUE INDEX url_mappings_url_hash_key ON url_mappings (url_hash) WHERE dedup;
CREATE INDEX url_mappings_newest ON url_mappings (created_at DESC, id DESC);

CREATE TABLE api_keys (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    key_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

---- create above / drop below ----

DROP TABLE api_keys;
DROP INDEX url_mappings_newest;
DROP INDEX url_mappings_url_hash_key;
DELETE FROM url_mappings WHERE NOT dedup OR short_code !~ '^[A-Za-z0-9_-]{7}$';
ALTER TABLE url_mappings ADD CONSTRAINT url_mappings_url_hash_key UNIQUE (url_hash);
ALTER TABLE url_mappings DROP COLUMN expires_at, DROP COLUMN max_visits, DROP COLUMN redirect_status,
    DROP COLUMN dedup, DROP COLUMN updated_at;
ALTER TABLE url_mappings DROP CONSTRAINT url_mappings_short_code_shape;
ALTER TABLE url_mappings ADD CONSTRAINT url_mappings_short_code_shape CHECK (short_code ~ '^[A-Za-z0-9_-]{7}$');
