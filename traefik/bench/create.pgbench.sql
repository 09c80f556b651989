-- pgbench script of make bench: the backend's create statement
-- (backend/postgres/postgres.go, createSQL) with fresh ids, codes and URLs.
\set id random(1000000000000, 4398046511103)
WITH ins AS (
	INSERT INTO url_mappings (id, short_code, original_url, url_hash)
	VALUES (:id, translate(substr(encode(sha256(:id::text::bytea), 'base64'), 1, 7), '+/', '-_'),
	        'https://pgbench.example/' || :id, sha256(('https://pgbench.example/' || :id)::bytea))
	ON CONFLICT (url_hash) DO NOTHING
	RETURNING short_code, original_url, created_at, access_count, true AS created
)
SELECT * FROM ins
UNION ALL
SELECT short_code, original_url, created_at, access_count, false FROM url_mappings
WHERE url_hash = sha256(('https://pgbench.example/' || :id)::bytea)
LIMIT 1;
