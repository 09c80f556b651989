-- Links: the code is derived from id by a keyed permutation (backend/code.go),
-- url_hash (SHA-256 of the normalized URL) makes POST /api/shorten idempotent.
CREATE SEQUENCE url_mappings_id_seq AS bigint MINVALUE 1 MAXVALUE 4398046511103; -- 2^42 - 1

CREATE TABLE url_mappings (
    id           bigint      PRIMARY KEY DEFAULT nextval('url_mappings_id_seq'),
    short_code   text        NOT NULL,
    original_url text        NOT NULL,
    url_hash     bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    access_count bigint      NOT NULL DEFAULT 0,
    CONSTRAINT url_mappings_short_code_key UNIQUE (short_code),
    CONSTRAINT url_mappings_url_hash_key UNIQUE (url_hash),
    CONSTRAINT url_mappings_short_code_shape CHECK (short_code ~ '^[A-Za-z0-9_-]{7}$'),
    CONSTRAINT url_mappings_url_hash_size CHECK (octet_length(url_hash) = 32),
    CONSTRAINT url_mappings_access_count_positive CHECK (access_count >= 0)
);

ALTER SEQUENCE url_mappings_id_seq OWNED BY url_mappings.id;

---- create above / drop below ----

DROP TABLE url_mappings;
