-- Anyone can report a link (phishing, malware, spam); key holders read the
-- reports. What was reported is kept with the target the link had then;
-- nothing about the reporter is stored.
CREATE TABLE reports (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       text        NOT NULL,
    target     text        NOT NULL,
    reason     text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reports_newest ON reports (created_at DESC, id DESC);
CREATE INDEX reports_code ON reports (code);

---- create above / drop below ----

DROP TABLE reports;
