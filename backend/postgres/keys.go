package postgres

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/kurzlink/kurz/backend"
)

const keyColumns = `id, name, role, created_at, revoked_at, coalesce(domain, '')`

func scanKey(row pgx.Row) (backend.APIKey, error) {
	var k backend.APIKey
	err := row.Scan(&k.ID, &k.Name, &k.Role, &k.CreatedAt, &k.RevokedAt, &k.Domain)
	return k, err
}

// CreateKey refuses a name an active key has, in the statement that inserts.
func (db *DB) CreateKey(ctx context.Context, name string, role backend.Role, domain string, hash []byte) (backend.APIKey, error) {
	ctx, done := db.begin(ctx, "create_key")
	k, err := scanKey(db.pool.QueryRow(ctx, `
		INSERT INTO api_keys (name, role, key_hash, domain)
		SELECT $1, $2, $3, nullif($4, '') WHERE NOT EXISTS (SELECT 1 FROM api_keys WHERE name = $1 AND revoked_at IS NULL)
		RETURNING `+keyColumns, name, string(role), hash, domain))
	if err == pgx.ErrNoRows {
		err = backend.Errorf(backend.ECONFLICT, "an active key has this name")
	}
	return k, done(err)
}

func (db *DB) ListKeys(ctx context.Context) ([]backend.APIKey, error) {
	ctx, done := db.begin(ctx, "list_keys")
	rows, _ := db.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY id`)
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (backend.APIKey, error) { return scanKey(r) })
	return keys, done(err)
}

// RevokeKey revokes by id when nameOrID is a number, else the one active key
// of that name; several active keys of one name (made before names had to
// differ) must be revoked by id.
func (db *DB) RevokeKey(ctx context.Context, nameOrID string) (backend.APIKey, error) {
	ctx, done := db.begin(ctx, "revoke_key")
	if id, err := strconv.ParseInt(nameOrID, 10, 64); err == nil {
		k, err := scanKey(db.pool.QueryRow(ctx, `
			UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING `+keyColumns, id))
		return k, done(err)
	}
	var active int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE name = $1 AND revoked_at IS NULL`, nameOrID).Scan(&active); err != nil {
		return backend.APIKey{}, done(err)
	}
	if active > 1 {
		return backend.APIKey{}, done(backend.Errorf(backend.ECONFLICT, "%d active keys are named %q: revoke one by its id (kurz keys list)", active, nameOrID))
	}
	k, err := scanKey(db.pool.QueryRow(ctx, `
		UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING `+keyColumns, nameOrID))
	return k, done(err)
}

func (db *DB) ActiveKey(ctx context.Context, hash []byte) (backend.APIKey, error) {
	ctx, done := db.begin(ctx, "active_key")
	k, err := scanKey(db.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, hash))
	return k, done(err)
}
