// Package redis is the LinkCache on Redis (go-redis v9), using the keys of package link.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
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
	mu      sync.Mutex
	quorum  link.ReplicaQuorum // the replicas a push or a fold must reach
	ops     *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

var _ backend.LinkCache = (*Cache)(nil)

var (
	// setLink fills a link's entries unless Redis has seen a newer version.
	// KEYS: code:{c}, ver:{c}[, urlhash:{h}]. ARGV: url, version, ttl ms, version ttl ms[, code, hash ttl ms].
	setLink = goredis.NewScript(`
local seen = redis.pcall('GET', KEYS[2])
if type(seen) == 'string' and (tonumber(seen) or 0) > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
if KEYS[3] then redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6]) end
return 1`)

	// invalidate drops a changed link's entries, raises its version so that
	// older fills are refused, lists an announced alias, and tells the edges.
	// KEYS: code:{c}, ver:{c}, urlhash:{h} (or code:{c} again), codes:aliases.
	// ARGV: version, tombstone ms, channel, code, "1" to announce.
	invalidate = goredis.NewScript(`
local seen = redis.pcall('GET', KEYS[2])
if type(seen) ~= 'string' or (tonumber(seen) or 0) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
end
redis.call('DEL', KEYS[1], KEYS[3])
if ARGV[5] == '1' then
  if redis.call('TYPE', KEYS[4]).ok ~= 'set' then redis.call('DEL', KEYS[4]) end
  redis.call('SADD', KEYS[4], ARGV[4])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`)

	// raiseIssued is the contract's script.
	raiseIssued = goredis.NewScript(link.RaiseIssuedScript)

	// pushHits is the contract's script, shared with the edge.
	pushHits = goredis.NewScript(link.AddHitsScript)

	// holdLease takes the folding lease, or renews it for its holder.
	// KEYS: hits:lease. ARGV: owner, ttl ms.
	holdLease = goredis.NewScript(`
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

	// releaseLease deletes the folding lease if owner holds it. KEYS: hits:lease. ARGV: owner.
	releaseLease = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`)

	// takeBatch returns the batch being folded, or renames the pending hash
	// into a new batch. A pending key of another type is dropped.
	// KEYS: hits, hits:folding. ARGV: the new batch's key.
	takeBatch = goredis.NewScript(`
local current = redis.call('GET', KEYS[2])
if current then
  redis.call('SET', KEYS[2], current) -- a write, so that WAIT after it covers the rename too
  return current
end
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then return false end
if t ~= 'hash' then redis.call('DEL', KEYS[1]) return false end
redis.call('RENAME', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1])
return ARGV[1]`)

	// finishBatch deletes a folded batch and, if it is still the current one, the marker.
	// KEYS: hits:folding. ARGV: the batch's key.
	finishBatch = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('DEL', ARGV[1])
return 1`)
)

// Sentinel selects the master through Redis Sentinel instead of the URL's host.
type Sentinel struct {
	Addrs      []string // host:port of each Sentinel
	MasterName string
	Username   string
	Password   string
}

// Open returns a Cache for redisURL (redis://[user:password@]host:port/db);
// with sentinel.Addrs, the URL gives only the credentials and the database,
// and the master is the one the Sentinels name, followed across failovers.
func Open(redisURL string, sentinel Sentinel, timeout time.Duration, reg prometheus.Registerer) (*Cache, error) {
	opts, err := goredis.ParseURL(redisURL)
	if err != nil {
		return nil, err
	}
	goredis.SetLogger(silent{}) // failures are returned, logged by callers and counted
	var client *goredis.Client
	if len(sentinel.Addrs) > 0 {
		client = goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName: sentinel.MasterName, SentinelAddrs: sentinel.Addrs,
			SentinelUsername: sentinel.Username, SentinelPassword: sentinel.Password,
			Username: opts.Username, Password: opts.Password, DB: opts.DB,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
			MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: 10 * time.Millisecond,
		})
	} else {
		opts.DialTimeout = timeout
		opts.ReadTimeout = timeout
		opts.WriteTimeout = timeout
		opts.MaxRetries = -1 // fail fast: Postgres is the fallback
		opts.DialerRetries = 1
		opts.DialerRetryTimeout = 10 * time.Millisecond
		client = goredis.NewClient(opts)
	}
	client.AddHook(&breaker{cooldown: time.Second})
	c := &Cache{
		client:  client,
		timeout: timeout,
		quorum:  link.ReplicaQuorum{Sentinels: len(sentinel.Addrs) > 0},
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
		for _, col := range []prometheus.Collector{c.ops, c.latency, newScrapeCollector(c)} {
			if err := reg.Register(col); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

func (c *Cache) Close() error { return c.client.Close() }

// UnsafeConfigError is a Redis setting kurz refuses to run with.
type UnsafeConfigError struct{ Message string }

func (e *UnsafeConfigError) Error() string { return e.Message }

// CheckEvictionPolicy refuses a Redis that may evict keys without a TTL: the
// pending counts (hits) have none and must not vanish under memory pressure.
func (c *Cache) CheckEvictionPolicy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cfg, err := c.client.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return err
	}
	if policy := cfg["maxmemory-policy"]; strings.HasPrefix(policy, "allkeys-") {
		return &UnsafeConfigError{Message: fmt.Sprintf("redis has maxmemory-policy %s, which may evict the pending visit counts: "+
			"set it to volatile-lru (or noeviction), e.g. redis-server --maxmemory-policy volatile-lru", policy)}
	}
	return nil
}

func (c *Cache) URL(ctx context.Context, code string) (string, error) {
	ctx, done := c.begin(ctx, "get_url")
	v, err := c.client.GetRange(ctx, link.CodeKey(code), 0, link.MaxTargetBytes).Result()
	if err != nil {
		return "", done(err, "")
	}
	if v == "" { // GETRANGE answers "" for a missing key
		return "", done(nil, "miss")
	}
	return v, done(nil, "hit")
}

// PublishNotFoundRedirect sets (or, for "", deletes) where the default
// domain sends unknown codes, for the edges.
func (c *Cache) PublishNotFoundRedirect(ctx context.Context, url string) error {
	ctx, done := c.begin(ctx, "publish_not_found")
	if url == "" {
		return done(c.client.Del(ctx, link.NotFoundRedirectKey).Err(), "")
	}
	return done(c.client.Set(ctx, link.NotFoundRedirectKey, url, 0).Err(), "")
}

func (c *Cache) CodeForHash(ctx context.Context, urlHash []byte) (string, error) {
	ctx, done := c.begin(ctx, "get_code")
	v, err := c.client.GetRange(ctx, link.URLHashKey(backend.HashHex(urlHash)), 0, link.AliasMaxLength).Result()
	if err != nil {
		return "", done(err, "")
	}
	if v == "" {
		return "", done(nil, "miss")
	}
	return v, done(nil, "hit")
}

func (c *Cache) SetLink(ctx context.Context, l backend.Link, ttl time.Duration, withHash bool) (bool, error) {
	ctx, done := c.begin(ctx, "set_link")
	ttl = min(ttl, link.CodeTTL)
	keys := []string{link.CodeKey(l.Key()), link.VersionKey(l.Key())}
	args := []any{link.CachedTarget(l.URL, l.ForwardQuery), l.Version, ttl.Milliseconds(), max(ttl, link.TombstoneTTL).Milliseconds()}
	if withHash {
		keys = append(keys, link.URLHashKey(backend.HashHex(l.URLHash)))
		args = append(args, l.Code, link.URLHashTTL.Milliseconds())
	}
	n, err := setLink.Run(ctx, c.client, keys, args...).Int()
	return n == 1, done(err, "")
}

func (c *Cache) Invalidate(ctx context.Context, inv backend.Invalidation) error {
	ctx, done := c.begin(Background(ctx), "invalidate")
	hashKey := link.CodeKey(inv.Code)
	if inv.URLHash != nil {
		hashKey = link.URLHashKey(backend.HashHex(inv.URLHash))
	}
	announce := "0"
	if inv.Announce {
		announce = "1"
	}
	err := c.replicated(ctx, func(p goredis.Pipeliner) {
		invalidate.Eval(ctx, p, []string{link.CodeKey(inv.Code), link.VersionKey(inv.Code), hashKey, link.AliasesKeyOf(inv.Code)},
			inv.Version, link.TombstoneTTL.Milliseconds(), link.InvalidateChannel, inv.Code, announce)
	})
	return done(err, "")
}

// replicated runs write on a connection of its own and then, if the master
// has replicas, waits until one has it: WAIT counts the replicas that have
// what its own connection wrote, and replication keeps order, so what came
// before is there too. A write that answers nil is no error.
func (c *Cache) replicated(ctx context.Context, write func(p goredis.Pipeliner)) error {
	conn := c.client.Conn()
	defer conn.Close()
	var role *goredis.Cmd
	_, err := conn.Pipelined(ctx, func(p goredis.Pipeliner) error {
		write(p)
		role = p.Do(ctx, "ROLE")
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return err
	}
	return c.awaitReplica(ctx, conn, role)
}

// ErrNotReplicated is a write the master applied that too few replicas have yet:
// a failover now would lose it, so whoever stored it keeps it to apply again.
var ErrNotReplicated = errors.New("redis: applied on the master, on too few replicas")

// WatchReplicas asks the master for its replicas every interval until ctx
// ends, with Sentinels: a backend that wrote nothing for a while must not
// take the count it sees after a failover for the master's usual one.
func (c *Cache) WatchReplicas(ctx context.Context, interval time.Duration) {
	c.mu.Lock()
	sentinels := c.quorum.Sentinels
	c.mu.Unlock()
	if !sentinels {
		return
	}
	for ctx.Err() == nil {
		rctx, done := c.begin(ctx, "role")
		reply, err := c.client.Do(rctx, "ROLE").Slice()
		done(err, "")
		if err == nil && len(reply) >= 3 && reply[0] == "master" {
			replicas, _ := reply[2].([]any)
			c.mu.Lock()
			c.quorum.Saw(len(replicas), time.Now())
			c.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
	}
}

// awaitReplica waits, within half the timeout, until as many replicas have
// what conn wrote as link.ReplicaQuorum needs (role is the master's ROLE reply).
func (c *Cache) awaitReplica(ctx context.Context, conn *goredis.Conn, role *goredis.Cmd) error {
	reply, err := role.Slice()
	if err != nil {
		return err
	}
	if len(reply) < 3 || reply[0] != "master" {
		return fmt.Errorf("redis: ROLE answered %v, not a master's", reply)
	}
	replicas, _ := reply[2].([]any)
	c.mu.Lock()
	c.quorum.Saw(len(replicas), time.Now())
	need := c.quorum.Need()
	c.mu.Unlock()
	if need == 0 {
		return nil
	}
	n, err := conn.Do(ctx, "WAIT", need, max(int64(c.timeout/2/time.Millisecond), 1)).Int()
	if err != nil {
		return err
	}
	if n < need {
		return ErrNotReplicated
	}
	return nil
}

func (c *Cache) RaiseIssued(ctx context.Context, fingerprint string, id int64, create bool) (bool, error) {
	ctx, done := c.begin(ctx, "raise_issued")
	createArg := "0"
	if create {
		createArg = "1"
	}
	n, err := raiseIssued.Run(ctx, c.client, []string{link.CodesIssuedKey}, fingerprint, id, createArg).Int()
	return n == 2, done(err, "")
}

// wholeMark is the member of link.OtherAliasesKey that says the set was
// filled whole from Postgres; it is no alias (too short), and it goes with
// the set when Redis loses it.
const wholeMark = "!"

// CountAliases counts both alias lists (a missing key, or one of another
// type, holds none); Other is -1 while that list lacks wholeMark.
func (c *Cache) CountAliases(ctx context.Context) (backend.AliasCounts, error) {
	ctx, done := c.begin(Background(ctx), "count_aliases")
	var edge, other *goredis.IntCmd
	var whole *goredis.BoolCmd
	_, err := c.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		edge = p.SCard(ctx, link.CodesAliasesKey)
		other = p.SCard(ctx, link.OtherAliasesKey)
		whole = p.SIsMember(ctx, link.OtherAliasesKey, wholeMark)
		return nil
	})
	if err != nil && !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		return backend.AliasCounts{}, done(err, "")
	}
	n := backend.AliasCounts{Edge: edge.Val(), Other: other.Val() - 1}
	if !whole.Val() {
		n.Other = -1
	}
	return n, done(nil, "")
}

// AddAliases lists codes in their sets (replacing keys of another type),
// then marks the list of other lengths whole.
func (c *Cache) AddAliases(ctx context.Context, codes []string) error {
	ctx, done := c.begin(Background(ctx), "add_aliases")
	sets := map[string][]any{link.CodesAliasesKey: nil, link.OtherAliasesKey: nil}
	for _, code := range codes {
		key := link.AliasesKeyOf(code)
		sets[key] = append(sets[key], code)
	}
	sets[link.OtherAliasesKey] = append(sets[link.OtherAliasesKey], wholeMark) // last: after every member
	for _, key := range []string{link.CodesAliasesKey, link.OtherAliasesKey} {
		if t, err := c.client.Type(ctx, key).Result(); err != nil {
			return done(err, "")
		} else if t != "set" && t != "none" {
			c.client.Del(ctx, key)
		}
		for members := sets[key]; len(members) > 0; {
			n := min(len(members), 1000)
			if err := c.client.SAdd(ctx, key, members[:n]...).Err(); err != nil {
				return done(err, "")
			}
			members = members[n:]
		}
	}
	return done(nil, "")
}

// AliasUnlisted reports whether alias, of another length than
// link.CodeLength, is in no list that is whole: then no link has it.
func (c *Cache) AliasUnlisted(ctx context.Context, alias string) (bool, error) {
	ctx, done := c.begin(ctx, "alias_listed")
	got, err := c.client.SMIsMember(ctx, link.OtherAliasesKey, alias, wholeMark).Result()
	if err != nil || len(got) != 2 {
		return false, done(err, "")
	}
	unlisted := got[1] && !got[0]
	result := "listed"
	if unlisted {
		result = "unlisted"
	} else if !got[1] {
		result = "not_whole"
	}
	return unlisted, done(nil, result)
}

func (c *Cache) Issued(ctx context.Context) (string, int64, bool, error) {
	ctx, done := c.begin(ctx, "issued")
	v, err := c.client.Get(ctx, link.CodesIssuedKey).Result()
	if err == goredis.Nil {
		return "", 0, false, done(nil, "miss")
	}
	if err != nil {
		return "", 0, false, done(err, "")
	}
	fingerprint, id, ok := link.ParseIssued(v)
	return fingerprint, id, ok, done(nil, "hit")
}

func (c *Cache) PushHits(ctx context.Context, batchID string, hits map[string]int64) error {
	ctx, done := c.begin(Background(ctx), "push_hits")
	args := make([]any, 0, 2+2*len(hits))
	args = append(args, link.HitsPushedTTL.Milliseconds(), batchID)
	for code, n := range hits {
		args = append(args, code, n)
	}
	// Kept by the caller until a replica has it: a master that dies or is
	// cut off and demoted before replicating it would lose it.
	return done(c.replicated(ctx, func(p goredis.Pipeliner) {
		pushHits.Eval(ctx, p, []string{link.HitsKey, link.HitsPushedKey}, args...)
	}), "")
}

func (c *Cache) HitsBatchPushed(ctx context.Context, batchID string) (bool, error) {
	ctx, done := c.begin(Background(ctx), "hits_pushed")
	err := c.client.ZScore(ctx, link.HitsPushedKey, batchID).Err()
	if errors.Is(err, goredis.Nil) {
		return false, done(nil, "miss")
	}
	return err == nil, done(err, "hit")
}

func (c *Cache) HoldFoldLease(ctx context.Context, owner string) (bool, error) {
	ctx, done := c.begin(Background(ctx), "hold_lease")
	n, err := holdLease.Run(ctx, c.client, []string{link.HitsLeaseKey}, owner, link.HitsLeaseTTL.Milliseconds()).Int()
	return n == 1, done(err, "")
}

func (c *Cache) ReleaseFoldLease(ctx context.Context, owner string) error {
	ctx, done := c.begin(Background(ctx), "release_lease")
	return done(releaseLease.Run(ctx, c.client, []string{link.HitsLeaseKey}, owner).Err(), "")
}

func (c *Cache) TakeHitBatch(ctx context.Context) (string, error) {
	ctx, done := c.begin(Background(ctx), "take_hits")
	// The batch is folded only once a replica has it: a new master without
	// the rename would still hold the hits, and fold them again.
	var take *goredis.Cmd
	err := c.replicated(ctx, func(p goredis.Pipeliner) {
		take = takeBatch.Eval(ctx, p, []string{link.HitsKey, link.HitsFoldingKey}, link.HitsBatchKeyPrefix+newID())
	})
	if err != nil {
		return "", done(err, "")
	}
	name, err := take.Text()
	if errors.Is(err, goredis.Nil) {
		return "", done(nil, "miss")
	}
	if err != nil {
		return "", done(err, "")
	}
	if !strings.HasPrefix(name, link.HitsBatchKeyPrefix) { // not ours: forget the marker, touch nothing else
		return "", done(c.client.Del(ctx, link.HitsFoldingKey).Err(), "")
	}
	return name, done(nil, "")
}

// ReadHitBatch scans the batch; HSCAN may return a field twice, so fields are
// assigned, not added. A batch that is not a hash counts as one malformed field.
func (c *Cache) ReadHitBatch(ctx context.Context, batch string) (map[string]int64, int, error) {
	hits, malformed := map[string]int64{}, map[string]bool{}
	var cursor uint64
	for {
		sctx, done := c.begin(Background(ctx), "read_hits")
		pairs, next, err := c.client.HScan(sctx, batch, cursor, "", 10000).Result()
		if err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") {
			return hits, 1, done(nil, "")
		}
		if err = done(err, ""); err != nil {
			return nil, 0, err
		}
		for i := 0; i+1 < len(pairs); i += 2 {
			n, err := strconv.ParseInt(pairs[i+1], 10, 64)
			if err != nil || n <= 0 || n > link.MaxHitsPerField || !link.IsKey(pairs[i]) {
				malformed[pairs[i]] = true
				continue
			}
			hits[pairs[i]] = n
		}
		if cursor = next; cursor == 0 {
			return hits, len(malformed), nil
		}
	}
}

func (c *Cache) FinishHitBatch(ctx context.Context, batch string) error {
	ctx, done := c.begin(Background(ctx), "finish_hits")
	return done(finishBatch.Run(ctx, c.client, []string{link.HitsFoldingKey}, batch).Err(), "")
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *Cache) Ping(ctx context.Context) error {
	ctx, done := c.begin(ctx, "ping")
	return done(c.client.Ping(ctx).Err(), "")
}

type silent struct{}

func (silent) Printf(context.Context, string, ...any) {}

// begin bounds ctx by the timeout; done records the result and latency. The
// breaker tells this timeout (its own failure) from the caller's cancellation.
func (c *Cache) begin(ctx context.Context, op string) (context.Context, func(error, string) error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, errCommandTimeout)
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

func (c *Cache) AwaitAnnounced(ctx context.Context, code string, wait time.Duration) error {
	ctx = Background(ctx)
	deadline := time.Now().Add(wait)
	cctx, done := c.begin(ctx, "await_announced")
	subs, err := c.client.PubSubNumSub(cctx, link.InvalidateChannel).Result()
	if done(err, "") != nil {
		return err
	}
	edges := subs[link.InvalidateChannel]
	for { // each read within the Redis timeout, all of them within wait
		cctx, done := c.begin(ctx, "await_announced")
		n, err := c.client.Get(cctx, link.AnnouncedKey(code)).Int64()
		if errors.Is(err, goredis.Nil) {
			err = nil
		}
		if done(err, "") != nil {
			return err
		}
		if n >= edges {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d edges listed it within %s", n, edges, wait)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
