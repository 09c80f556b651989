package postgres

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/kurzlink/kurz/backend"
)

func scanKey(row pgx.Row) (backend.APIKey, error) {
	var k backend.APIKey
	err := row.Scan(&k.ID, &k.Name, &k.CreatedAt, &k.RevokedAt)
	return k, err
}

func (db *DB) CreateKey(ctx context.Context, name string, hash []byte) (backend.APIKey, error) {
	ctx, done := db.begin(ctx, "create_key")
	k, err := scanKey(db.pool.QueryRow(ctx,
		`INSERT INTO api_keys (name, key_hash) VALUES ($1, $2) RETURNING id, name, created_at, revoked_at`, name, hash))
	return k, done(err)
}

func (db *DB) ListKeys(ctx context.Context) ([]backend.APIKey, error) {
	ctx, done := db.begin(ctx, "list_keys")
	rows, _ := db.pool.Query(ctx, `SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY id`)
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (backend.APIKey, error) { return scanKey(r) })
	return keys, done(err)
}

// RevokeKey revokes by id when nameOrID is a number, else every key of that name.
func (db *DB) RevokeKey(ctx context.Context, nameOrID string) (backend.APIKey, error) {
	ctx, done := db.begin(ctx, "revoke_key")
	id, err := strconv.ParseInt(nameOrID, 10, 64)
	if err != nil {
		id = 0
	}
	k, err := scanKey(db.pool.QueryRow(ctx, `
		UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE id = $1 OR name = $2 RETURNING id, name, created_at, revoked_at`, id, nameOrID))
	return k, done(err)
}

func (db *DB) KeyActive(ctx context.Context, hash []byte) (bool, error) {
	ctx, done := db.begin(ctx, "key_active")
	var active bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL)`, hash).Scan(&active)
	return active, done(err)
}
