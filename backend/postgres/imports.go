package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kurzlink/kurz/backend"
)

var _ backend.ImportStore = (*DB)(nil)

// ImportLinks inserts the links in one statement, skipping those whose
// source and key were imported before or whose code is taken, and lists the
// imported aliases in the same transaction (the backends put them in Redis).
func (db *DB) ImportLinks(ctx context.Context, source string, links []backend.ImportedLink) ([]backend.ImportOutcome, error) {
	ctx, done := db.begin(ctx, "import_links")
	n := len(links)
	ids, codes, urls, keys, domains, titles, tags := make([]int64, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hashes := make([][]byte, n)
	created, expires, since := make([]time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	counts, limits := make([]int64, n), make([]*int64, n)
	for i, l := range links {
		ids[i], codes[i], urls[i], keys[i], domains[i], titles[i] = l.ID, l.Code, l.URL, l.SourceKey, l.Domain, l.Title
		tags[i] = strings.Join(l.Tags, ",") // tags hold no comma (backend.NormalizeTags)
		hashes[i], created[i], expires[i], since[i], counts[i], limits[i] = l.URLHash, l.CreatedAt, l.ExpiresAt, l.ValidSince, l.AccessCount, l.MaxVisits
	}
	outcomes := make([]backend.ImportOutcome, n)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `
			INSERT INTO url_mappings (id, short_code, original_url, url_hash, dedup, created_at, updated_at, access_count, expires_at, max_visits,
			                          tags, title, valid_since, domain, import_source, import_key)
			SELECT id, code, url, hash, false, created, created, visits, expires, max_visits,
			       string_to_array(tags, ','), nullif(title, ''), since, domain, $14, key
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::timestamptz[], $6::bigint[], $7::timestamptz[], $8::bigint[],
			            $9::text[], $10::text[], $11::timestamptz[], $12::text[], $13::text[])
			     AS t(id, code, url, hash, created, visits, expires, max_visits, tags, title, since, domain, key)
			ON CONFLICT DO NOTHING
			RETURNING id`, ids, codes, urls, hashes, created, counts, expires, limits, tags, titles, since, domains, keys, source)
		inserted, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		done := map[int64]bool{}
		for _, id := range inserted {
			done[id] = true
		}
		var aliases, rest []string
		for _, l := range links {
			switch {
			case done[l.ID] && l.IsAlias:
				aliases = append(aliases, l.Key())
			case !done[l.ID]:
				rest = append(rest, l.SourceKey)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO edge_aliases (code) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, aliases); err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, `SELECT import_key FROM url_mappings WHERE import_source = $1 AND import_key = ANY($2)`, source, rest)
		known, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		before := map[string]bool{}
		for _, k := range known {
			before[k] = true
		}
		for i, l := range links {
			switch {
			case done[l.ID]:
				outcomes[i] = backend.Imported
			case before[l.SourceKey]: // imported before, or by an earlier row of this batch
				outcomes[i] = backend.AlreadyImported
			default:
				outcomes[i] = backend.CodeTaken
			}
		}
		return nil
	})
	return outcomes, done(err)
}
