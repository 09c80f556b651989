package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// scrapeCollector exports, at each scrape, the pools' waits and the outbox
// of invalidations and alias announcements not yet applied to Redis.
type scrapeCollector struct {
	db                                            *DB
	acquires, waits, waited, acquired, idle, size *prometheus.Desc
	outbox, outboxAge                             *prometheus.Desc
}

func newScrapeCollector(db *DB) *scrapeCollector {
	pool := []string{"pool"}
	return &scrapeCollector{db: db,
		acquires:  prometheus.NewDesc("kurz_postgres_pool_acquires_total", "Connections taken from the pool.", pool, nil),
		waits:     prometheus.NewDesc("kurz_postgres_pool_waits_total", "Acquires that waited for a connection (none was idle).", pool, nil),
		waited:    prometheus.NewDesc("kurz_postgres_pool_acquire_seconds_total", "Time spent acquiring connections.", pool, nil),
		acquired:  prometheus.NewDesc("kurz_postgres_pool_connections_in_use", "Connections in use now.", pool, nil),
		idle:      prometheus.NewDesc("kurz_postgres_pool_connections_idle", "Idle connections now.", pool, nil),
		size:      prometheus.NewDesc("kurz_postgres_pool_connections_max", "The pool's size.", pool, nil),
		outbox:    prometheus.NewDesc("kurz_outbox_backlog", "Invalidations and alias announcements stored in Postgres, not yet applied to Redis.", nil, nil),
		outboxAge: prometheus.NewDesc("kurz_outbox_oldest_seconds", "Age of the oldest entry of the outbox (0 when empty).", nil, nil),
	}
}

func (sc *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sc.acquires, sc.waits, sc.waited, sc.acquired, sc.idle, sc.size, sc.outbox, sc.outboxAge} {
		ch <- d
	}
}

func (sc *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	pools := map[string]*pgxpool.Pool{"primary": sc.db.pool}
	if sc.db.replica != nil {
		pools["replica"] = sc.db.replica
	}
	for name, p := range pools {
		s := p.Stat()
		ch <- prometheus.MustNewConstMetric(sc.acquires, prometheus.CounterValue, float64(s.AcquireCount()), name)
		ch <- prometheus.MustNewConstMetric(sc.waits, prometheus.CounterValue, float64(s.EmptyAcquireCount()), name)
		ch <- prometheus.MustNewConstMetric(sc.waited, prometheus.CounterValue, s.AcquireDuration().Seconds(), name)
		ch <- prometheus.MustNewConstMetric(sc.acquired, prometheus.GaugeValue, float64(s.AcquiredConns()), name)
		ch <- prometheus.MustNewConstMetric(sc.idle, prometheus.GaugeValue, float64(s.IdleConns()), name)
		ch <- prometheus.MustNewConstMetric(sc.size, prometheus.GaugeValue, float64(s.MaxConns()), name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if n, age, err := sc.db.OutboxBacklog(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(sc.outbox, prometheus.GaugeValue, float64(n))
		ch <- prometheus.MustNewConstMetric(sc.outboxAge, prometheus.GaugeValue, age.Seconds())
	}
}

// OutboxBacklog counts the stored invalidations and announcements and the age of the oldest.
func (db *DB) OutboxBacklog(ctx context.Context) (int64, time.Duration, error) {
	ctx, done := db.begin(ctx, "outbox_backlog")
	var n int64
	var age float64
	err := db.pool.QueryRow(ctx, `SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 FROM cache_invalidations`).Scan(&n, &age)
	return n, time.Duration(age * float64(time.Second)), done(err)
}
