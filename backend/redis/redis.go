// Package redis is the LinkCache on Redis (go-redis v9), using the keys of package link.
package redis

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

// Cache implements backend.LinkCache; every call is bounded by timeout.
type Cache struct {
	client  *goredis.Client
	timeout time.Duration
	ops     *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

var _ backend.LinkCache = (*Cache)(nil)

// takeHits reads and deletes the pending hits atomically, so each is folded once.
var takeHits = goredis.NewScript(`
local v = redis.call('HGETALL', KEYS[1])
if #v > 0 then redis.call('DEL', KEYS[1]) end
return v`)

// Open returns a Cache for redisURL (redis://[:password@]host:port/db).
func Open(redisURL string, timeout time.Duration, reg prometheus.Registerer) (*Cache, error) {
	opts, err := goredis.ParseURL(redisURL)
	if err != nil {
		return nil, err
	}
	opts.DialTimeout = timeout
	opts.ReadTimeout = timeout
	opts.WriteTimeout = timeout
	opts.MaxRetries = -1 // fail fast: Postgres is the fallback
	opts.DialerRetries = 1
	opts.DialerRetryTimeout = 10 * time.Millisecond
	goredis.SetLogger(silent{}) // failures are returned, logged by callers and counted
	client := goredis.NewClient(opts)
	client.AddHook(&breaker{cooldown: time.Second})
	c := &Cache{
		client:  client,
		timeout: timeout,
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kurz_cache_operations_total",
			Help: "Redis cache operations by operation and result (hit, miss, ok, error).",
		}, []string{"op", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kurz_redis_command_duration_seconds",
			Help:    "Latency of Redis commands by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}, []string{"op"}),
	}
	if reg != nil {
		for _, col := range []prometheus.Collector{c.ops, c.latency} {
			if err := reg.Register(col); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

func (c *Cache) Close() error { return c.client.Close() }

func (c *Cache) URL(ctx context.Context, code string) (string, error) {
	return c.get(ctx, "get_url", link.CodeKey(code))
}

func (c *Cache) SetURL(ctx context.Context, code, url string, ttl time.Duration) error {
	return c.set(ctx, "set_url", link.CodeKey(code), url, min(ttl, link.CodeTTL))
}

// Forget deletes a link's entries and tells the edges to drop it from their hot caches.
func (c *Cache) Forget(ctx context.Context, code string, urlHash []byte) error {
	ctx, done := c.begin(ctx, "forget")
	_, err := c.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, link.CodeKey(code), link.URLHashKey(backend.HashHex(urlHash)))
		p.Publish(ctx, link.InvalidateChannel, code)
		return nil
	})
	return done(err, "")
}

func (c *Cache) CodeForHash(ctx context.Context, urlHash []byte) (string, error) {
	return c.get(ctx, "get_code", link.URLHashKey(backend.HashHex(urlHash)))
}

func (c *Cache) SetLink(ctx context.Context, l backend.Link, ttl time.Duration) error {
	ctx, done := c.begin(ctx, "set_link")
	_, err := c.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, link.CodeKey(l.Code), l.URL, min(ttl, link.CodeTTL))
		if l.Dedup {
			p.Set(ctx, link.URLHashKey(backend.HashHex(l.URLHash)), l.Code, link.URLHashTTL)
		}
		return nil
	})
	return done(err, "")
}

func (c *Cache) TakeHits(ctx context.Context) (map[string]int64, error) {
	ctx, done := c.begin(ctx, "take_hits")
	pairs, err := takeHits.Run(ctx, c.client, []string{link.HitsKey}).StringSlice()
	if err = done(err, ""); err != nil {
		return nil, err
	}
	hits := make(map[string]int64, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		n, err := strconv.ParseInt(pairs[i+1], 10, 64)
		if err != nil || !link.IsCode(pairs[i]) || n <= 0 {
			continue // a foreign or corrupt field must not block the rest
		}
		hits[pairs[i]] += n
	}
	return hits, nil
}

func (c *Cache) AddHits(ctx context.Context, hits map[string]int64) error {
	ctx, done := c.begin(ctx, "add_hits")
	_, err := c.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for code, n := range hits {
			p.HIncrBy(ctx, link.HitsKey, code, n)
		}
		return nil
	})
	return done(err, "")
}

func (c *Cache) Ping(ctx context.Context) error {
	ctx, done := c.begin(ctx, "ping")
	return done(c.client.Ping(ctx).Err(), "")
}

func (c *Cache) get(ctx context.Context, op, key string) (string, error) {
	ctx, done := c.begin(ctx, op)
	v, err := c.client.Get(ctx, key).Result()
	if errors.Is(err, goredis.Nil) {
		return "", done(nil, "miss")
	}
	if err != nil {
		return "", done(err, "")
	}
	return v, done(nil, "hit")
}

func (c *Cache) set(ctx context.Context, op, key, value string, ttl time.Duration) error {
	ctx, done := c.begin(ctx, op)
	return done(c.client.Set(ctx, key, value, ttl).Err(), "")
}

type silent struct{}

func (silent) Printf(context.Context, string, ...any) {}

// begin bounds ctx by the timeout; done records the result and latency.
func (c *Cache) begin(ctx context.Context, op string) (context.Context, func(error, string) error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	start := time.Now()
	return ctx, func(err error, result string) error {
		cancel()
		c.latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
		switch {
		case err != nil:
			result = "error"
		case result == "":
			result = "ok"
		}
		c.ops.WithLabelValues(op, result).Inc()
		return err
	}
}
