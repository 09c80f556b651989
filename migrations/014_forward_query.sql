-- Links that append their visitors' query strings to the target (Shlink's
-- forwardQuery). Off for every existing link: they redirect as before.
ALTER TABLE url_mappings ADD COLUMN forward_query boolean NOT NULL DEFAULT false;

---- create above / drop below ----

ALTER TABLE url_mappings DROP COLUMN forward_query;
