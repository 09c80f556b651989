-- Counts a stopping backend could not push to Redis after a push whose answer
-- it never got: Redis may have added that batch already. Parked here, not
-- counted, until a running backend asks Redis whether the batch id was added
-- (hits:pushed): then they are dropped (Redis has them) or added to
-- access_count under the claim direct/{batch_id} (it has not).
CREATE TABLE parked_hits (
    batch_id  text        PRIMARY KEY,
    codes     text[]      NOT NULL,
    counts    bigint[]    NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now()
);

---- create above / drop below ----

DROP TABLE parked_hits;
