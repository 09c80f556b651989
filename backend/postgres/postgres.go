// Package postgres is the LinkStore on PostgreSQL (pgx v5): migrations, links and counts.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
	"github.com/kurzlink/kurz/migrations"
)

// DB implements backend.LinkStore.
type DB struct {
	pool    *pgxpool.Pool
	replica *pgxpool.Pool // reads that may lag; nil: none
	timeout time.Duration
	latency *prometheus.HistogramVec
	reads   *prometheus.CounterVec

	visitDays partitionSet // the visit log's day partitions known to exist
}

var _ backend.LinkStore = (*DB)(nil)

// Open connects to databaseURL, and to replicaURL for reads that may lag
// unless it is empty; every query is bounded by timeout.
func Open(ctx context.Context, databaseURL, replicaURL string, timeout time.Duration, reg prometheus.Registerer) (*DB, error) {
	pool, err := openPool(ctx, "DATABASE_URL", databaseURL, timeout)
	if err != nil {
		return nil, err
	}
	db := &DB{pool: pool, timeout: timeout,
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kurz_postgres_query_duration_seconds",
			Help:    "Latency of Postgres queries by operation and result.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op", "result"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kurz_postgres_reads_total",
			Help: "Reads of links that may lag (redirect misses, QR codes, list, get) by the pool that answered: replica or primary.",
		}, []string{"pool"}),
	}
	if replicaURL != "" {
		if db.replica, err = openPool(ctx, "DATABASE_REPLICA_URL", replicaURL, timeout); err != nil {
			pool.Close()
			return nil, err
		}
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{db.latency, db.reads, newScrapeCollector(db)} {
			if err := reg.Register(c); err != nil {
				db.Close()
				return nil, err
			}
		}
	}
	return db, nil
}

func openPool(ctx context.Context, name, url string, timeout time.Duration) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	cfg.ConnConfig.ConnectTimeout = timeout
	return pgxpool.NewWithConfig(ctx, cfg)
}

func (db *DB) Close() {
	db.pool.Close()
	if db.replica != nil {
		db.replica.Close()
	}
}

// Migrate applies the embedded migrations; tern holds a Postgres advisory lock
// meanwhile, so replicas starting together apply each migration once.
func (db *DB) Migrate(ctx context.Context) error { return db.MigrateTo(ctx, -1) }

// MigrateTo applies the migrations up to version (-1: all), as Migrate does.
func (db *DB) MigrateTo(ctx context.Context, version int32) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	m, err := migrate.NewMigrator(ctx, conn.Conn(), "kurz_schema_version")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := m.LoadMigrations(migrations.FS); err != nil {
		return fmt.Errorf("migrate: load: %w", err)
	}
	if version < 0 {
		version = int32(len(m.Migrations))
	}
	if err := m.MigrateTo(ctx, version); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func (db *DB) Ping(ctx context.Context) error {
	ctx, done := db.begin(ctx, "ping")
	err := db.pool.Ping(ctx)
	return done(err)
}

func (db *DB) NextIDs(ctx context.Context, n int) ([]int64, error) {
	ctx, done := db.begin(ctx, "next_ids")
	rows, _ := db.pool.Query(ctx, `SELECT nextval('url_mappings_id_seq') FROM generate_series(1, $1)`, n)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return ids, done(err)
}

// AddHits adds a chunk of counts in one statement, which also claims the
// chunk's id: a chunk applied before (a retry after a lost reply, or another
// backend folding the same batch) matches no claim and adds nothing. Counts
// saturate at the largest bigint instead of failing the whole chunk.
func (db *DB) AddHits(ctx context.Context, chunkID string, hits map[string]int64) (bool, error) {
	codes := backend.SortedCodes(hits)
	counts := make([]int64, len(codes))
	domains, names := make([]string, len(codes)), make([]string, len(codes))
	for i, c := range codes {
		counts[i] = hits[c]
		domains[i], names[i] = link.SplitKey(c)
	}
	ctx, done := db.begin(ctx, "add_hits")
	var claimed bool
	err := db.pool.QueryRow(ctx, `
		WITH claim AS (
			INSERT INTO hit_chunks (id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id
		), added AS (
			UPDATE url_mappings m
			SET access_count = least(m.access_count::numeric + h.n, 9223372036854775807)::bigint
			FROM unnest($2::text[], $3::text[], $4::bigint[]) AS h(domain, code, n)
			WHERE m.domain = h.domain AND m.short_code = h.code AND EXISTS (SELECT 1 FROM claim)
		)
		SELECT EXISTS (SELECT 1 FROM claim)`, chunkID, domains, names, counts).Scan(&claimed)
	return claimed, done(err)
}

func (db *DB) ParkHits(ctx context.Context, batchID string, hits map[string]int64) error {
	codes := backend.SortedCodes(hits)
	counts := make([]int64, len(codes))
	for i, c := range codes {
		counts[i] = hits[c]
	}
	ctx, done := db.begin(ctx, "park_hits")
	_, err := db.pool.Exec(ctx, `INSERT INTO parked_hits (batch_id, codes, counts) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, batchID, codes, counts)
	return done(err)
}

func (db *DB) ParkedHits(ctx context.Context, limit int) ([]backend.ParkedHits, error) {
	ctx, done := db.begin(ctx, "parked_hits")
	rows, _ := db.pool.Query(ctx, `SELECT batch_id, codes, counts, parked_at FROM parked_hits ORDER BY parked_at LIMIT $1`, limit)
	var out []backend.ParkedHits
	var p backend.ParkedHits
	var codes []string
	var counts []int64
	_, err := pgx.ForEachRow(rows, []any{&p.BatchID, &codes, &counts, &p.ParkedAt}, func() error {
		if len(codes) != len(counts) {
			return fmt.Errorf("parked batch %s: %d codes, %d counts", p.BatchID, len(codes), len(counts))
		}
		p.Hits = map[string]int64{}
		for i, c := range codes {
			p.Hits[c] += counts[i]
		}
		out = append(out, p)
		return nil
	})
	return out, done(err)
}

func (db *DB) UnparkHits(ctx context.Context, batchID string) error {
	ctx, done := db.begin(ctx, "unpark_hits")
	_, err := db.pool.Exec(ctx, `DELETE FROM parked_hits WHERE batch_id = $1`, batchID)
	return done(err)
}

func (db *DB) PruneHitChunks(ctx context.Context, before time.Time) error {
	ctx, done := db.begin(ctx, "prune_hit_chunks")
	_, err := db.pool.Exec(ctx, `DELETE FROM hit_chunks WHERE applied_at < $1`, before)
	return done(err)
}

// begin bounds ctx by the query timeout and returns the function that records
// the latency and translates the driver's error.
func (db *DB) begin(ctx context.Context, op string) (context.Context, func(error) error) {
	ctx, cancel := context.WithTimeout(ctx, db.timeout)
	start := time.Now()
	return ctx, func(err error) error {
		cancel()
		err = translate(err)
		db.latency.WithLabelValues(op, resultLabel(err)).Observe(time.Since(start).Seconds())
		return err
	}
}

func resultLabel(err error) string {
	if err == nil || backend.ErrorCode(err) == backend.ENOTFOUND {
		return "ok"
	}
	return backend.ErrorCode(err)
}

// translate maps pgx errors to backend errors, once, here.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var domainErr *backend.Error
	if errors.As(err, &domainErr) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return backend.Wrap(backend.ENOTFOUND, err, "not found")
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return backend.Wrap(backend.ECONFLICT, err, "already exists")
		// 25006: a connection to a primary that was just demoted (a failover) is read-only.
		case "57P01", "57P02", "57P03", "53300", "08000", "08003", "08006", "25006":
			return backend.Wrap(backend.EUNAVAILABLE, err, "database unavailable")
		}
		return backend.Wrap(backend.EINTERNAL, err, "database error")
	}
	// Anything else is the connection: refused, reset, timed out.
	return backend.Wrap(backend.EUNAVAILABLE, err, "database unavailable")
}
