-- Trustworthy under faults:
-- * version: every change of a link takes a new value from one sequence; cache
--   fills carry it, and Redis refuses a fill older than what it has seen.
-- * cache_invalidations: written in the transaction of a change, deleted once
--   Redis has dropped the old entries, so an answered PATCH or DELETE reaches
--   the caches even if Redis or the backend failed right after the commit.
-- * hit_chunks: the chunks of counts already added, checked in the statement
--   that adds them, so a retried chunk counts nothing twice.
CREATE SEQUENCE url_mappings_version_seq AS bigint;
ALTER TABLE url_mappings ADD COLUMN version bigint NOT NULL DEFAULT nextval('url_mappings_version_seq');

CREATE TABLE cache_invalidations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       text        NOT NULL,
    url_hash   bytea       CHECK (octet_length(url_hash) = 32), -- the dedup entry to drop, if any
    version    bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hit_chunks (
    id         text        PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hit_chunks_applied_at ON hit_chunks (applied_at);

---- create above / drop below ----

DROP TABLE hit_chunks;
DROP TABLE cache_invalidations;
ALTER TABLE url_mappings DROP COLUMN version;
DROP SEQUENCE url_mappings_version_seq;
