-- Unknown codes answered at the edge: the edge decodes a 7-character code and
-- answers 404 when its id is beyond every id handed out. Aliases of 7
-- characters decode to no id, so they are listed.
-- * code_space: the fingerprint of the code secret. A backend with another
--   secret would make the edge refuse existing codes: it is refused at start.
-- * edge_aliases: every alias of 7 characters made (a deleted one stays: it
--   costs a lookup, never a wrong answer).
-- * cache_invalidations.announce: the code is a new 7-character alias, which
--   Redis adds to codes:aliases before the create is answered or, if Redis
--   does not answer, when the invalidation is retried.
CREATE TABLE code_space (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    fingerprint text    NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{16}$')
);

CREATE TABLE edge_aliases (
    code       text        PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{7}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE cache_invalidations ADD COLUMN announce boolean NOT NULL DEFAULT false;

---- create above / drop below ----

ALTER TABLE cache_invalidations DROP COLUMN announce;
DROP TABLE edge_aliases;
DROP TABLE code_space;
