package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

// maxEdges bounds the instances read: edge:stats:* keys beyond it are not looked at.
const maxEdges = 1000

// EdgeStats reads every edge's statistics. Values come from Redis, so each is
// read only up to link.MaxEdgeStatsBytes and parsed strictly; those that do
// not parse are counted, not returned.
func (c *Cache) EdgeStats(ctx context.Context) ([]backend.EdgeInstance, int, error) {
	ctx, done := c.begin(ctx, "edge_stats")
	var keys []string
	iter := c.client.Scan(ctx, 0, link.EdgeStatsKeyPrefix+"*", 200).Iterator()
	for iter.Next(ctx) && len(keys) < maxEdges {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, 0, done(err, "")
	}
	pipe := c.client.Pipeline()
	values := make([]*goredis.StringCmd, len(keys))
	for i, k := range keys {
		values[i] = pipe.GetRange(ctx, k, 0, link.MaxEdgeStatsBytes)
	}
	if len(keys) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
			return nil, 0, done(err, "")
		}
	}
	var out []backend.EdgeInstance
	malformed := 0
	for i, k := range keys {
		v, err := values[i].Result()
		if err != nil || v == "" { // expired between SCAN and GET
			continue
		}
		s, err := link.ParseEdgeStats(v)
		if err != nil {
			malformed++
			continue
		}
		out = append(out, backend.EdgeInstance{Name: strings.TrimPrefix(k, link.EdgeStatsKeyPrefix), Stats: s})
	}
	return out, malformed, done(nil, "")
}

// VisitsBacklog is the length of the visits stream and the age of its oldest
// entry (0 when empty): how far the folding lags.
func (c *Cache) VisitsBacklog(ctx context.Context, now time.Time) (int64, time.Duration, error) {
	ctx, done := c.begin(ctx, "visits_backlog")
	pipe := c.client.Pipeline()
	length := pipe.XLen(ctx, link.VisitsKey)
	first := pipe.XRangeN(ctx, link.VisitsKey, "-", "+", 1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return 0, 0, done(err, "")
	}
	entries, _ := first.Result()
	var lag time.Duration
	if len(entries) == 1 {
		ms, _, _ := strings.Cut(entries[0].ID, "-")
		if t, err := strconv.ParseInt(ms, 10, 64); err == nil && now.UnixMilli() > t {
			lag = time.Duration(now.UnixMilli()-t) * time.Millisecond
		}
	}
	return length.Val(), lag, done(nil, "")
}

// scrapeCollector exports, at each scrape, what Redis holds for everyone:
// every edge's statistics (kurz_edge_*) and the visits backlog. One scrape
// of any backend thus shows every edge.
type scrapeCollector struct {
	cache *Cache
	descs map[string]*prometheus.Desc
}

var edgeSeries = []struct{ name, help string }{
	{"kurz_edge_answers_total", "Redirects the edge answered, by source (hot cache or Redis)."},
	{"kurz_edge_passed_total", "Code-shaped GET/HEAD the edge passed to the backends, by reason."},
	{"kurz_edge_not_found_total", "404s the edge answered for codes no link can have."},
	{"kurz_edge_retries_total", "GET/HEAD the edge sent to another backend after a 502 or 504."},
	{"kurz_edge_redis_errors_total", "The edge's Redis connections that failed, timeouts included."},
	{"kurz_edge_redis_timeouts_total", "The edge's Redis replies that were overdue."},
	{"kurz_edge_breaker_open", "1 while the edge's Redis breaker is open (lookups pass on at once)."},
	{"kurz_edge_breaker_opens_total", "Times the edge's Redis breaker opened."},
	{"kurz_edge_master_changes_total", "Times the edge found another Redis master (a Sentinel failover)."},
	{"kurz_edge_redis_round_trip_seconds", "The edge's Redis round trips (a pipelined batch each)."},
	{"kurz_edge_pipeline_batch_size", "Commands in each of the edge's pipelined batches."},
	{"kurz_edge_visits_dropped_total", "Visits the edge could not record (buffer or stream full)."},
	{"kurz_edge_hot_cache_entries", "Entries in the edge's hot cache."},
	{"kurz_edge_hot_cache_evictions_total", "Entries the edge's hot cache evicted to make room."},
	{"kurz_edge_last_publish_timestamp_seconds", "When the edge last published its statistics."},
	{"kurz_edge_stats_malformed", "Published edge statistics that did not parse at this scrape."},
	{"kurz_edges", "Edge instances that published within the statistics' TTL."},
	{"kurz_visits_stream_length", "Batches of visits in the Redis stream, waiting to be folded."},
	{"kurz_visits_fold_lag_seconds", "Age of the oldest visit batch not yet folded into Postgres."},
	{"kurz_visits_stream_cap", "Batches the visits stream holds at most; more are refused and counted as dropped."},
}

func newScrapeCollector(c *Cache) *scrapeCollector {
	labels := map[string][]string{
		"kurz_edge_answers_total": {"edge", "source"}, "kurz_edge_passed_total": {"edge", "reason"},
		"kurz_edge_stats_malformed": nil, "kurz_edges": nil, "kurz_visits_stream_length": nil, "kurz_visits_fold_lag_seconds": nil, "kurz_visits_stream_cap": nil,
	}
	sc := &scrapeCollector{cache: c, descs: map[string]*prometheus.Desc{}}
	for _, s := range edgeSeries {
		l, ok := labels[s.name]
		if !ok {
			l = []string{"edge"}
		}
		sc.descs[s.name] = prometheus.NewDesc(s.name, s.help, l, nil)
	}
	return sc
}

func (sc *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range sc.descs {
		ch <- d
	}
}

func (sc *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	counter := func(name string, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(sc.descs[name], prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(sc.descs[name], prometheus.GaugeValue, v, labels...)
	}
	if edges, malformed, err := sc.cache.EdgeStats(ctx); err == nil {
		gauge("kurz_edge_stats_malformed", float64(malformed))
		gauge("kurz_edges", float64(len(edges)))
		for _, e := range edges {
			s, n := e.Stats, e.Name
			counter("kurz_edge_answers_total", s.HotAnswers, n, "hot")
			counter("kurz_edge_answers_total", s.RedisAnswers, n, "redis")
			counter("kurz_edge_passed_total", s.PassedMiss, n, "miss")
			counter("kurz_edge_passed_total", s.PassedError, n, "redis_error")
			counter("kurz_edge_passed_total", s.PassedUnsafe, n, "unsafe_value")
			counter("kurz_edge_passed_total", s.PassedDraining, n, "draining")
			counter("kurz_edge_not_found_total", s.NotFound, n)
			counter("kurz_edge_retries_total", s.Retries, n)
			counter("kurz_edge_redis_errors_total", s.RedisErrors, n)
			counter("kurz_edge_redis_timeouts_total", s.RedisTimeouts, n)
			breaker := 0.0
			if s.BreakerOpen {
				breaker = 1
			}
			gauge("kurz_edge_breaker_open", breaker, n)
			counter("kurz_edge_breaker_opens_total", s.BreakerOpens, n)
			counter("kurz_edge_master_changes_total", s.MasterChanges, n)
			ch <- histogram(sc.descs["kurz_edge_redis_round_trip_seconds"], s.RTT, link.EdgeRTTBounds, 1e-6, float64(s.RTTSumMicros)*1e-6, n)
			ch <- histogram(sc.descs["kurz_edge_pipeline_batch_size"], s.Batch, link.EdgeBatchBounds, 1, float64(s.BatchSum), n)
			counter("kurz_edge_visits_dropped_total", s.VisitsDropped, n)
			gauge("kurz_edge_hot_cache_entries", float64(s.HotEntries), n)
			counter("kurz_edge_hot_cache_evictions_total", s.HotEvictions, n)
			gauge("kurz_edge_last_publish_timestamp_seconds", float64(s.At.UnixMilli())/1000, n)
		}
	}
	if length, lag, err := sc.cache.VisitsBacklog(ctx, time.Now()); err == nil {
		gauge("kurz_visits_stream_length", float64(length))
		gauge("kurz_visits_fold_lag_seconds", lag.Seconds())
		gauge("kurz_visits_stream_cap", link.VisitsStreamCap)
	}
}

// histogram makes a Prometheus histogram of per-bucket counts whose upper
// bounds are bounds × scale (the last bucket is +Inf).
func histogram(desc *prometheus.Desc, counts, bounds []int64, scale, sum float64, labels ...string) prometheus.Metric {
	buckets := map[float64]uint64{}
	var cumulative uint64
	for i, b := range bounds {
		if i < len(counts) {
			cumulative += uint64(counts[i])
		}
		buckets[float64(b)*scale] = cumulative
	}
	if len(counts) > len(bounds) {
		cumulative += uint64(counts[len(bounds)])
	}
	return prometheus.MustNewConstHistogram(desc, cumulative, sum, buckets, labels...)
}
