package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/kurzlink/kurz/backend"
)

// linkKeySQL is link.Key in SQL, of url_mappings' row m.
const linkKeySQL = `CASE WHEN m.domain = '' THEN m.short_code ELSE m.domain || '/' || m.short_code END`

// botsOf sums the bot visits in the roll-ups of the key the SQL expression key gives.
func botsOf(key string) string {
	return `(SELECT coalesce(sum(s.visits), 0) FROM visit_stats s WHERE s.code = ` + key + ` AND s.dim = '` + backend.DimKind + `' AND s.value = 'bot')`
}

func (db *DB) TagStats(ctx context.Context, owner *int64, domain *string) ([]backend.TagStat, error) {
	ctx, done := db.begin(ctx, "tag_stats")
	rows, _ := db.pool.Query(ctx, `
		SELECT t.tag, count(*), coalesce(sum(m.access_count), 0), coalesce(sum(least(`+botsOf(linkKeySQL)+`, m.access_count)), 0)
		FROM url_mappings m CROSS JOIN LATERAL unnest(m.tags) AS t(tag)
		WHERE ($1::bigint IS NULL OR m.owner_key_id = $1) AND ($2::text IS NULL OR m.domain = $2)
		GROUP BY t.tag ORDER BY t.tag`, owner, domain)
	stats, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (backend.TagStat, error) {
		var t backend.TagStat
		err := r.Scan(&t.Tag, &t.Links, &t.Visits.Total, &t.Visits.Bots)
		return t, err
	})
	return stats, done(err)
}

func (db *DB) RenameTag(ctx context.Context, from, to string) error {
	ctx, done := db.begin(ctx, "rename_tag")
	return done(pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM url_mappings WHERE tags @> ARRAY[$1::text])`, to).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return backend.Errorf(backend.ECONFLICT, "the tag %q exists already", to)
		}
		tag, err := tx.Exec(ctx, `UPDATE url_mappings SET tags = array_replace(tags, $1::text, $2::text) WHERE tags @> ARRAY[$1::text]`, from, to)
		if err == nil && tag.RowsAffected() == 0 {
			err = backend.Errorf(backend.ENOTFOUND, "no link has the tag %q", from)
		}
		return err
	}))
}

func (db *DB) DeleteTags(ctx context.Context, tags []string) error {
	ctx, done := db.begin(ctx, "delete_tags")
	_, err := db.pool.Exec(ctx, `
		UPDATE url_mappings SET tags = ARRAY(SELECT t FROM unnest(tags) WITH ORDINALITY AS u(t, i) WHERE t <> ALL($1::text[]) ORDER BY i)
		WHERE tags && $1::text[]`, tags)
	return done(err)
}

// DeleteVisits zeroes the link's count and drops its roll-ups and logged
// visits in one transaction; the all-links roll-ups keep them.
func (db *DB) DeleteVisits(ctx context.Context, key string, owner *int64) (int64, error) {
	ctx, done := db.begin(ctx, "delete_visits")
	var had int64
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `
			UPDATE url_mappings m SET access_count = 0 FROM (SELECT id, access_count FROM url_mappings WHERE `+ownedBy+` FOR UPDATE) old
			WHERE m.id = old.id RETURNING m.id, old.access_count`, domainOf(key), codeOf(key), owner).Scan(&id, &had)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM visit_stats WHERE code = $1`, key); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM visit_log WHERE link_id = $1`, id)
		return err
	})
	return had, done(err)
}

func (db *DB) VisitTotals(ctx context.Context, owner *int64, domain *string) (backend.VisitSummary, error) {
	ctx, done := db.begin(ctx, "visit_totals")
	var v backend.VisitSummary
	bots := `coalesce(sum(least(` + botsOf(linkKeySQL) + `, m.access_count)), 0)`
	if owner == nil && domain == nil { // every link: the all-links roll-ups
		bots = botsOf("'" + backend.AllLinksCode + "'")
	}
	err := db.pool.QueryRow(ctx, `SELECT coalesce(sum(m.access_count), 0), `+bots+` FROM url_mappings m
		WHERE ($1::bigint IS NULL OR m.owner_key_id = $1) AND ($2::text IS NULL OR m.domain = $2)`, owner, domain).Scan(&v.Total, &v.Bots)
	v.Bots = min(v.Bots, v.Total)
	return v, done(err)
}

func (db *DB) BotVisits(ctx context.Context, keys []string) (map[string]int64, error) {
	ctx, done := db.begin(ctx, "bot_visits")
	rows, _ := db.pool.Query(ctx, `SELECT code, sum(visits) FROM visit_stats WHERE code = ANY($1) AND dim = $2 AND value = 'bot' GROUP BY code`, keys, backend.DimKind)
	out := map[string]int64{}
	var code string
	var n int64
	_, err := pgx.ForEachRow(rows, []any{&code, &n}, func() error { out[code] = n; return nil })
	return out, done(err)
}
