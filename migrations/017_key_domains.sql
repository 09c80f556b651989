-- A key may be limited to one short domain (its name, as KURZ_DOMAINS
-- writes it): it manages, lists and creates that domain's links only.
-- NULL: every domain, as every key made before.
ALTER TABLE api_keys ADD COLUMN domain text CHECK (domain ~ '^[a-z0-9.-]{1,253}$');

---- create above / drop below ----

ALTER TABLE api_keys DROP COLUMN domain;
