package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

// FoldVisits locks the visits cursor, asks fold what to add after it, and
// adds the roll-ups and moves the cursor in the same transaction: a fold that
// dies before its commit adds nothing, and the next one reads the same entries.
func (db *DB) FoldVisits(ctx context.Context, fold func(cursor backend.VisitCursor) (backend.VisitFold, error)) (backend.VisitFold, error) {
	ctx, done := db.begin(ctx, "fold_visits")
	var out backend.VisitFold
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var cursor backend.VisitCursor
		if err := tx.QueryRow(ctx, `SELECT last_id, epoch FROM visit_cursor WHERE id = 1 FOR UPDATE`).Scan(&cursor.Last, &cursor.Epoch); err != nil {
			return err
		}
		f, err := fold(cursor)
		if err != nil || f.Last == "" {
			return err
		}
		n := len(f.Rollups)
		codes, dims, values := make([]string, n), make([]string, n), make([]string, n)
		hours, visits := make([]time.Time, n), make([]int64, n)
		for i, r := range f.Rollups {
			codes[i], dims[i], hours[i], values[i], visits[i] = r.Code, r.Dim, r.Hour, r.Value, r.Visits
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO visit_stats (code, dim, hour, value, visits)
			SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::bigint[])
			ON CONFLICT (code, dim, hour, value) DO UPDATE SET visits = visit_stats.visits + excluded.visits`,
			codes, dims, hours, values, visits); err != nil {
			return err
		}
		if err := db.logVisits(ctx, tx, f.Log); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE visit_cursor SET last_id = $1, entries = entries + $2, visits = visits + $3, malformed = malformed + $4, epoch = $5
			WHERE id = 1`, f.Last, f.Entries, f.Visits, f.Malformed, f.Epoch); err != nil {
			return err
		}
		out = f
		return nil
	})
	if err != nil {
		db.visitDays.forget() // a partition made in a rolled-back fold is gone
	}
	return out, done(err)
}

// VisitStats sums the roll-ups of code in [from, to): the series of humans
// and bots by interval, and the top values of each other dimension.
func (db *DB) VisitStats(ctx context.Context, code string, from, to time.Time, interval time.Duration) (backend.Stats, error) {
	ctx, done := db.begin(ctx, "visit_stats")
	st := backend.Stats{Code: code, From: from, To: to}
	buckets := map[time.Time]*backend.StatsBucket{}
	for t := from; t.Before(to); t = t.Add(interval) {
		st.Series = append(st.Series, backend.StatsBucket{Start: t})
	}
	for i := range st.Series {
		buckets[st.Series[i].Start] = &st.Series[i]
	}
	step := "hour"
	if interval == 24*time.Hour {
		step = "day"
	}
	rows, _ := db.pool.Query(ctx, `
		SELECT date_trunc($4, hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket, value, sum(visits)::bigint
		FROM visit_stats WHERE code = $1 AND dim = 'kind' AND hour >= $2 AND hour < $3
		GROUP BY 1, 2`, code, from, to, step)
	var bucket time.Time
	var value string
	var n int64
	_, err := pgx.ForEachRow(rows, []any{&bucket, &value, &n}, func() error {
		b := buckets[bucket.UTC()]
		if b == nil {
			return nil
		}
		if value == "bot" {
			b.Bots += n
			st.Bots += n
		} else {
			b.Humans += n
			st.Humans += n
		}
		return nil
	})
	if err != nil {
		return st, done(err)
	}
	st.Total = st.Humans + st.Bots
	tops := map[string]*[]backend.StatsCount{
		backend.DimReferrer: &st.Top.Referrers, backend.DimBrowser: &st.Top.Browsers, backend.DimOS: &st.Top.OS,
		backend.DimDevice: &st.Top.Devices, backend.DimCountry: &st.Top.Countries,
	}
	for _, list := range tops {
		*list = []backend.StatsCount{}
	}
	rows, _ = db.pool.Query(ctx, `
		SELECT dim, value, total FROM (
			SELECT dim, value, sum(visits)::bigint AS total,
			       row_number() OVER (PARTITION BY dim ORDER BY sum(visits) DESC, value) AS rank
			FROM visit_stats WHERE code = $1 AND dim <> 'kind' AND hour >= $2 AND hour < $3
			GROUP BY dim, value
		) ranked WHERE rank <= $4 ORDER BY dim, rank`, code, from, to, backend.MaxTopValues)
	var dim string
	_, err = pgx.ForEachRow(rows, []any{&dim, &value, &n}, func() error {
		if list := tops[dim]; list != nil {
			*list = append(*list, backend.StatsCount{Value: value, Visits: n})
		}
		return nil
	})
	return st, done(err)
}

func (db *DB) PruneVisitStats(ctx context.Context, before time.Time) (int64, error) {
	ctx, done := db.begin(ctx, "prune_visit_stats")
	tag, err := db.pool.Exec(ctx, `DELETE FROM visit_stats WHERE hour < $1`, before)
	return tag.RowsAffected(), done(err)
}

// LinksCreated is the link that holds each of codes now, with when it was
// created; codes without a link are left out.
func (db *DB) LinksCreated(ctx context.Context, codes []string) (map[string]backend.CreatedLink, error) {
	ctx, done := db.begin(ctx, "links_created")
	domains, names := make([]string, len(codes)), make([]string, len(codes))
	for i, key := range codes {
		domains[i], names[i] = link.SplitKey(key)
	}
	rows, _ := db.pool.Query(ctx, `
		SELECT m.domain, m.short_code, m.id, m.created_at FROM url_mappings m
		JOIN unnest($1::text[], $2::text[]) AS k(domain, code) ON m.domain = k.domain AND m.short_code = k.code`, domains, names)
	out := map[string]backend.CreatedLink{}
	var domain, code string
	var l backend.CreatedLink
	_, err := pgx.ForEachRow(rows, []any{&domain, &code, &l.ID, &l.At}, func() error {
		out[link.Key(domain, code)] = l
		return nil
	})
	return out, done(err)
}
