-- The visit log: each visit as a row (KURZ_VISIT_LOG_RETENTION), written
-- by the fold in the transaction that moves the visits cursor (exactly
-- once). Partitioned by day, in UTC: the backends make visit_log_YYYYMMDD
-- when a fold first has a visit of that day and drop whole days past the
-- retention. No address; the user agent only with KURZ_VISIT_LOG_FULL_UA.
-- link_id is the link that held the code at the visit (NULL: none did).
CREATE SEQUENCE visit_log_seq;

CREATE TABLE visit_log (
    seq        bigint      NOT NULL DEFAULT nextval('visit_log_seq'),
    link_id    bigint,
    code       text        NOT NULL,
    at         timestamptz NOT NULL,
    referrer   text        NOT NULL,
    browser    text        NOT NULL,
    os         text        NOT NULL,
    device     text        NOT NULL,
    country    text        NOT NULL,
    bot        boolean     NOT NULL,
    user_agent text
) PARTITION BY RANGE (at);

-- Pages of one link's visits, and of all visits, newest first.
CREATE INDEX visit_log_link ON visit_log (link_id, at DESC, seq DESC);
CREATE INDEX visit_log_at ON visit_log (at DESC, seq DESC);

---- create above / drop below ----

DROP TABLE visit_log;
DROP SEQUENCE visit_log_seq;
