-- An operator can switch a single link off (PATCH {"disabled": true}): it
-- answers 410 everywhere until switched on again, and is never cached.
ALTER TABLE url_mappings ADD COLUMN disabled boolean NOT NULL DEFAULT false;

---- create above / drop below ----

ALTER TABLE url_mappings DROP COLUMN disabled;
