package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

// CreateAlias inserts a link with an alias, lists the alias (for the edge
// or the backends, by its length) and stores its announcement, in one
// transaction: an answered create is never unknown to the edge.
func (db *DB) CreateAlias(ctx context.Context, l backend.Link) (out backend.Link, inv backend.Invalidation, err error) {
	ctx, done := db.begin(ctx, "create_alias")
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if out, err = scanLink(tx.QueryRow(ctx, createSQL, createArgs(l)...)); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `INSERT INTO edge_aliases (code) VALUES ($1) ON CONFLICT DO NOTHING`, out.Key()); err != nil {
			return err
		}
		inv = backend.Invalidation{Code: out.Key(), Announce: true}
		return tx.QueryRow(ctx, `INSERT INTO cache_invalidations (code, version, announce) VALUES ($1, $2, true) RETURNING id, version`,
			out.Key(), out.Version).Scan(&inv.ID, &inv.Version)
	})
	return out, inv, done(err)
}

// IssuedID is the highest id the link sequence handed out (0 for none).
func (db *DB) IssuedID(ctx context.Context) (int64, error) {
	ctx, done := db.begin(ctx, "issued_id")
	var id int64
	err := db.pool.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM url_mappings_id_seq`).Scan(&id)
	return id, done(err)
}

// ListedAliases returns every listed alias, of any length.
func (db *DB) ListedAliases(ctx context.Context) ([]string, error) {
	ctx, done := db.begin(ctx, "listed_aliases")
	rows, _ := db.pool.Query(ctx, `SELECT code FROM edge_aliases`)
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return codes, done(err)
}

// CountListedAliases counts the listed aliases of link.CodeLength
// characters and of the other lengths.
func (db *DB) CountListedAliases(ctx context.Context) (backend.AliasCounts, error) {
	ctx, done := db.begin(ctx, "count_listed_aliases")
	var n backend.AliasCounts
	err := db.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE length(code) = $1), count(*) FILTER (WHERE length(code) <> $1) FROM edge_aliases`,
		link.CodeLength).Scan(&n.Edge, &n.Other)
	return n, done(err)
}

// SecretMismatchError says that the code secret is not the one the
// database's codes were made with; Evidence says how that shows.
type SecretMismatchError struct{ Have, Evidence string }

func (e *SecretMismatchError) Error() string {
	return fmt.Sprintf("KURZ_CODE_SECRET (fingerprint %s) is not the secret this database's codes were made with (%s): "+
		"set the secret it was made with. With another one, new codes could take ids of old ones and the edge would answer 404 for existing links", e.Have, e.Evidence)
}

// ClaimCodeSpace checks the code secret against the one the database's codes
// were made with, or, the first time, records it: then plain links must
// carry the codes this secret gives their ids, and the existing aliases are
// listed. A mismatch is a
// *SecretMismatchError.
func (db *DB) ClaimCodeSpace(ctx context.Context, codec *link.Codec) error {
	ctx, done := db.begin(ctx, "claim_code_space")
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('kurz code space'))`); err != nil {
			return err
		}
		var stored string
		err := tx.QueryRow(ctx, `SELECT fingerprint FROM code_space`).Scan(&stored)
		if err == nil {
			if stored != codec.Fingerprint() {
				return &SecretMismatchError{Have: codec.Fingerprint(), Evidence: "fingerprint " + stored}
			}
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// Plain links always carry their generated code: any of them tells the secret.
		var id int64
		var code string
		err = tx.QueryRow(ctx, `SELECT id, short_code FROM url_mappings WHERE dedup ORDER BY id DESC LIMIT 1`).Scan(&id, &code)
		if err == nil {
			if want, _ := codec.Encode(id); want != code {
				return &SecretMismatchError{Have: codec.Fingerprint(), Evidence: fmt.Sprintf("link %d has the code %s, this secret gives it %s", id, code, want)}
			}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT id, domain, short_code FROM url_mappings WHERE NOT dedup`)
		var aliases []string
		var domain string
		if _, err := pgx.ForEachRow(rows, []any{&id, &domain, &code}, func() error {
			if generated, _ := codec.Encode(id); generated != code {
				aliases = append(aliases, link.Key(domain, code))
			}
			return nil
		}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO edge_aliases (code) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, aliases); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO code_space (fingerprint) VALUES ($1)`, codec.Fingerprint())
		return err
	})
	return done(err)
}

func (db *DB) DomainRedirects(ctx context.Context) (map[string]backend.DomainRedirects, error) {
	ctx, done := db.begin(ctx, "domain_redirects")
	rows, _ := db.pool.Query(ctx, `SELECT domain, coalesce(root, ''), coalesce(not_found, '') FROM domain_redirects`)
	out := map[string]backend.DomainRedirects{}
	var domain string
	var r backend.DomainRedirects
	_, err := pgx.ForEachRow(rows, []any{&domain, &r.Root, &r.NotFound}, func() error {
		out[domain] = r
		return nil
	})
	return out, done(err)
}

func (db *DB) SetDomainRedirects(ctx context.Context, domain string, r backend.DomainRedirects) error {
	ctx, done := db.begin(ctx, "set_domain_redirects")
	_, err := db.pool.Exec(ctx, `
		INSERT INTO domain_redirects (domain, root, not_found) VALUES ($1, nullif($2, ''), nullif($3, ''))
		ON CONFLICT (domain) DO UPDATE SET root = excluded.root, not_found = excluded.not_found`, domain, r.Root, r.NotFound)
	return done(err)
}
