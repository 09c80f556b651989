-- Shlink's findIfExists looks for a link of the same URL, plain or not.
CREATE INDEX url_mappings_url_hash ON url_mappings (url_hash);

-- Imported links remember where they came from: the source ('shlink',
-- 'yourls', …) and its key for the link there (domain and code, or the
-- URL), so that importing again changes nothing.
ALTER TABLE url_mappings ADD COLUMN import_source text, ADD COLUMN import_key text;
CREATE UNIQUE INDEX url_mappings_import ON url_mappings (import_source, import_key) WHERE import_source IS NOT NULL;

---- create above / drop below ----

DROP INDEX url_mappings_import;
ALTER TABLE url_mappings DROP COLUMN import_source, DROP COLUMN import_key;
DROP INDEX url_mappings_url_hash;
