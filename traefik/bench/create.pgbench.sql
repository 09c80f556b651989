-- pgbench script of make bench: the backend's create statement for a plain
-- link (backend/postgres/links.go, createPlainSQL) with fresh ids, codes and
-- URLs. backend/postgres tests run it, so it cannot drift from the schema.
\set id random(1000000000000, 4398046511103)
WITH ins AS (
	INSERT INTO url_mappings (id, short_code, original_url, url_hash)
	VALUES (:id, translate(substr(encode(sha256(:id::text::bytea), 'base64'), 1, 7), '+/', '-_'),
	        'https://pgbench.example/' || :id, sha256(('https://pgbench.example/' || :id)::bytea))
	ON CONFLICT (url_hash) WHERE dedup DO NOTHING
	RETURNING id, short_code, original_url, url_hash, dedup, created_at, updated_at, access_count, expires_at, max_visits, coalesce(redirect_status, 0), true AS created
)
SELECT * FROM ins
UNION ALL
SELECT id, short_code, original_url, url_hash, dedup, created_at, updated_at, access_count, expires_at, max_visits, coalesce(redirect_status, 0), false
FROM url_mappings WHERE url_hash = sha256(('https://pgbench.example/' || :id)::bytea) AND dedup
LIMIT 1;
