-- Visit analytics: hourly roll-ups by dimension (kind, referrer, browser, os,
-- device, country), per link and over all links (code '*'). No address and no
-- user agent is stored. The cursor is the last visits-stream entry folded; it
-- moves in the transaction that adds that entry's roll-ups (exactly once).
CREATE TABLE visit_stats (
    code   text        NOT NULL,
    dim    text        NOT NULL,
    hour   timestamptz NOT NULL,
    value  text        NOT NULL,
    visits bigint      NOT NULL,
    PRIMARY KEY (code, dim, hour, value)
);

CREATE TABLE visit_cursor (
    id        int    PRIMARY KEY CHECK (id = 1),
    last_id   text   NOT NULL,
    entries   bigint NOT NULL,
    visits    bigint NOT NULL,
    malformed bigint NOT NULL
);
INSERT INTO visit_cursor VALUES (1, '0-0', 0, 0, 0);

---- create above / drop below ----
DROP TABLE visit_cursor;
DROP TABLE visit_stats;
