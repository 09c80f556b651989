package plugin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// nextHandler records that the request was passed on.
type nextHandler struct {
	mu     sync.Mutex
	called int
}

func (n *nextHandler) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	n.mu.Lock()
	n.called++
	n.mu.Unlock()
	rw.WriteHeader(http.StatusTeapot)
}

func mustNew(tb testing.TB, cfg *Config) (http.Handler, *nextHandler) {
	tb.Helper()
	next := &nextHandler{}
	h, err := New(context.Background(), next, cfg, "kurz-test")
	if err != nil {
		tb.Fatal(err)
	}
	return h, next
}

// mustNewConnected is mustNew that also waits for the Redis connection New opens in the background.
func mustNewConnected(tb testing.TB, cfg *Config) (http.Handler, *nextHandler) {
	tb.Helper()
	h, next := mustNew(tb, cfg)
	deadline := time.Now().Add(5 * time.Second)
	e := kurzOf(h).edge
	// subscribed too: the first subscription empties the hot cache, which would race the test
	for !e.redis.connected() || (!cfg.DisableHotCache && e.snapshot().subscriptions == 0) {
		if time.Now().After(deadline) {
			tb.Fatal("no connection or invalidation subscription to Redis")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return h, next
}

// kurzOf is the Kurz of a handler New returned (with domains, inside its hostRouter).
func kurzOf(h http.Handler) *Kurz {
	if r, ok := h.(*hostRouter); ok {
		return r.k
	}
	return h.(*Kurz)
}

func serve(h http.Handler, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

// testConfig returns defaults for addr; ttl makes the settings (and so the shared edge) unique.
// Its timeouts are long: a slow machine (Yaegi, CI) must not fail a lookup;
// tests of stalls set the shipped short read timeout themselves.
func testConfig(addr, ttl string) *Config {
	cfg := CreateConfig()
	cfg.RedisAddress = addr
	cfg.HotCacheTTL = ttl
	cfg.FlushInterval = "50ms"
	cfg.Cooldown = "300ms"
	cfg.DialTimeout, cfg.ReadTimeout = "1s", "1s"
	return cfg
}

// shortReadTimeout is the shipped read timeout, for tests whose Redis stalls past it.
const shortReadTimeout = "100ms"

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"OK", func(*Config) {}, ""},
		{"ErrEmptyAddress", func(c *Config) { c.RedisAddress = "" }, "redisAddress must not be empty"},
		{"ErrAddressWithoutPort", func(c *Config) { c.RedisAddress = "localhost" }, "must be host:port"},
		{"ErrStatus", func(c *Config) { c.RedirectStatus = 200 }, "redirectStatus"},
		{"ErrHotCacheSize", func(c *Config) { c.HotCacheSize = 0 }, "hotCacheSize must be positive"},
		{"ErrNegativeSize", func(c *Config) { c.HotCacheSize = -5 }, "hotCacheSize must be positive"},
		{"ErrTTL", func(c *Config) { c.HotCacheTTL = "soon" }, "hotCacheTTL"},
		{"ErrZeroTimeout", func(c *Config) { c.ReadTimeout = "0s" }, "readTimeout"},
		{"ErrNegativeDB", func(c *Config) { c.RedisDB = -1 }, "redisDB"},
		{"OKSentinel", func(c *Config) {
			c.SentinelAddresses, c.MasterName, c.RedisAddress = []string{"127.0.0.1:1"}, "kurz", ""
		}, ""},
		{"ErrSentinelWithoutMasterName", func(c *Config) { c.SentinelAddresses = []string{"127.0.0.1:1"} }, "masterName must name"},
		{"ErrBadSentinelAddress", func(c *Config) { c.SentinelAddresses, c.MasterName = []string{"nope"}, "kurz" }, "must be host:port"},
		{"ErrMasterNameAlone", func(c *Config) { c.MasterName = "kurz" }, "masterName needs sentinelAddresses"},
		{"OKDomains", func(c *Config) { c.Domains = []string{"go.example.com", "S.example.org"} }, ""},
		{"ErrDomainWithPort", func(c *Config) { c.Domains = []string{"go.example.com:8000"} }, "without scheme or port"},
		{"ErrDomainTwice", func(c *Config) { c.Domains = []string{"go.example.com", "Go.example.com"} }, "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := CreateConfig()
			tc.modify(cfg)
			_, err := New(context.Background(), &nextHandler{}, cfg, "x")
			if tc.want == "" && err != nil {
				t.Fatalf("New: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	t.Run("SharedAcrossReloads", func(t *testing.T) {
		a, _ := mustNew(t, testConfig("127.0.0.1:1", "7s"))
		b, _ := mustNew(t, testConfig("127.0.0.1:1", "7s"))
		if a.(*Kurz).edge != b.(*Kurz).edge {
			t.Error("two New calls with the same settings made two edges (connections would leak on reload)")
		}
	})
}

func TestServeHTTP(t *testing.T) {
	r := mustStartRedis(t)
	mustDo(t, r.addr, "SET", "code:tHit001", "https://example.com/target?x=1")
	h, next := mustNewConnected(t, testConfig(r.addr, "11s"))
	for _, tc := range []struct {
		name, method, path string
		status             int
		location           string
	}{
		{"OK", "GET", "/tHit001", 301, "https://example.com/target?x=1"},
		{"OKAgainFromHotCache", "GET", "/tHit001", 301, "https://example.com/target?x=1"},
		{"OKHead", "HEAD", "/tHit001", 301, "https://example.com/target?x=1"},
		{"OKWithQuery", "GET", "/tHit001?utm=x", 301, "https://example.com/target?x=1"},
		{"Miss", "GET", "/tMiss01", http.StatusTeapot, ""},
		{"BadShape", "GET", "/tHit00!", http.StatusTeapot, ""},
		{"TooLong", "GET", "/tHit0011", http.StatusTeapot, ""},
		{"OtherPath", "GET", "/api/shorten", http.StatusTeapot, ""},
		{"Post", "POST", "/tHit001", http.StatusTeapot, ""},
		{"Delete", "DELETE", "/tHit001", http.StatusTeapot, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(h, tc.method, tc.path)
			if got, want := rec.Code, tc.status; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			if got, want := rec.Header().Get("Location"), tc.location; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			if tc.status == 301 && rec.Header().Get("Cache-Control") == "" {
				t.Error("no Cache-Control")
			}
		})
	}
	if got, want := next.called, 6; got != want {
		t.Errorf("next called %d times, want %d", got, want)
	}
	t.Run("ConfiguredStatus", func(t *testing.T) {
		cfg := testConfig(r.addr, "12s")
		cfg.RedirectStatus = http.StatusTemporaryRedirect
		h, _ := mustNewConnected(t, cfg)
		if got := serve(h, "GET", "/tHit001").Code; got != http.StatusTemporaryRedirect {
			t.Errorf("status = %d, want 307", got)
		}
	})
}

func TestForwardQuery(t *testing.T) {
	r := mustStartRedis(t)
	mustDo(t, r.addr, "SET", "code:tFwd001", "+https://example.com/a?x=1#top")
	mustDo(t, r.addr, "SET", "code:tFwd002", "+https://example.com/b")
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
	}{
		{"HotCache", func(*Config) {}},
		{"RedisOnly", func(c *Config) { c.DisableHotCache = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(r.addr, "44s")
			tc.cfg(cfg)
			h, next := mustNewConnected(t, cfg)
			for _, step := range []struct {
				name, path, want string
			}{
				{"OKFromRedis", "/tFwd001?utm_source=news", "https://example.com/a?x=1&utm_source=news#top"},
				{"OKAgainWithOtherQuery", "/tFwd001?b=2&c=3", "https://example.com/a?x=1&b=2&c=3#top"},
				{"OKWithoutQuery", "/tFwd001", "https://example.com/a?x=1#top"},
				{"OKTargetWithoutQuery", "/tFwd002?b=2", "https://example.com/b?b=2"},
				{"OKTargetWithoutQueryAgain", "/tFwd002", "https://example.com/b"},
			} {
				rec := serve(h, "GET", step.path)
				if got, want := rec.Code, 301; got != want {
					t.Fatalf("%s: status = %d, want %d", step.name, got, want)
				}
				if got, want := rec.Header().Get("Location"), step.want; got != want {
					t.Errorf("%s: Location = %q, want %q", step.name, got, want)
				}
			}
			if next.called != 0 {
				t.Errorf("next called %d times, want 0: the edge serves links that forward queries", next.called)
			}
		})
	}
	t.Run("OKCountedOnce", func(t *testing.T) { // served from Redis, never the hot cache, and counted
		deadline := time.Now().Add(5 * time.Second)
		for {
			a, b := mustDo(t, r.addr, "HGET", "hits", "tFwd001").val, mustDo(t, r.addr, "HGET", "hits", "tFwd002").val
			if a == "6" && b == "4" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("hits = %q and %q, want 6 and 4", a, b)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// Two configurations in one Traefik (a reload that changed a setting, or two
// middlewares) make two edges in one process: their batches must not share
// ids, or Redis takes the second edge's batches for resends of the first's.
func TestEdgesOfOneProcessCountApart(t *testing.T) {
	r := mustStartRedis(t)
	mustDo(t, r.addr, "SET", "code:tTwo001", "https://example.com/one")
	mustDo(t, r.addr, "SET", "code:tTwo002", "https://example.com/two")
	first, _ := mustNewConnected(t, testConfig(r.addr, "45s"))
	second, _ := mustNewConnected(t, testConfig(r.addr, "46s"))
	for i := 0; i < 3; i++ {
		for _, tc := range []struct {
			h    http.Handler
			path string
		}{{first, "/tTwo001"}, {second, "/tTwo002"}} {
			if got := serve(tc.h, "GET", tc.path).Code; got != 301 {
				t.Fatalf("%s: status = %d", tc.path, got)
			}
		}
		time.Sleep(60 * time.Millisecond) // a flush between: a batch of each edge each time
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, b := mustDo(t, r.addr, "HGET", "hits", "tTwo001").val, mustDo(t, r.addr, "HGET", "hits", "tTwo002").val
		visits := len(streamVisits(t, r.addr))
		if a == "3" && b == "3" && visits == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hits = %q and %q, visits %d; want 3, 3 and 6", a, b, visits)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With domains the edge serves the default domain's links, in any spelling
// of its host, leaves the other domains to the backends and refuses other hosts.
func TestDomains(t *testing.T) {
	r := mustStartRedis(t)
	mustDo(t, r.addr, "SET", "code:tDom001", "https://example.com/default")
	mustDo(t, r.addr, "SET", "code:s.example.org/tDom003", "https://example.com/other")
	cfg := testConfig(r.addr, "47s")
	cfg.Domains = []string{"kurz.test", "s.example.org"}
	h, next := mustNewConnected(t, cfg)
	for _, tc := range []struct {
		name, host, path string
		status           int
	}{
		{"OKDefault", "kurz.test", "/tDom001", 301},
		{"OKDefaultAgain", "kurz.test", "/tDom001", 301},
		{"OKDefaultWithPortAndCase", "KURZ.test:8000", "/tDom001", 301},
		{"OKDefaultMiss", "kurz.test:8000", "/tDom002", http.StatusTeapot},
		{"OKOtherDomainsMissToBackends", "s.example.org", "/tDom001", http.StatusTeapot},
		{"OKOtherDomainFromRedis", "s.example.org", "/tDom003", 301},
		{"OKOtherDomainFromHotCache", "S.example.org:8000", "/tDom003", 301},
		{"OKOtherDomainsCodeNotOnDefault", "kurz.test", "/tDom003", http.StatusTeapot},
		{"OKOtherDomainAPI", "s.example.org:8000", "/api/links", http.StatusTeapot},
		{"ErrNotOurHost", "evil.example", "/tDom001", http.StatusNotFound},
		{"ErrNotOurHostAPI", "evil.example", "/api/shorten", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.path, nil)
			req.Host = tc.host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got, want := rec.Code, tc.status; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			if want := map[string]string{"/tDom001": "https://example.com/default", "/tDom003": "https://example.com/other"}[tc.path]; tc.status == 301 && rec.Header().Get("Location") != want {
				t.Errorf("Location = %q, want %q", rec.Header().Get("Location"), want)
			}
		})
	}
	if got, want := next.called, 4; got != want {
		t.Errorf("next called %d times, want %d", got, want)
	}
	t.Run("OKCountedByKey", func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			hits := mustDo(t, r.addr, "HGET", "hits", "s.example.org/tDom003").val
			var keys []string
			for _, v := range streamVisits(t, r.addr) {
				keys = append(keys, v.Code)
			}
			if hits == "2" && strings.Count(strings.Join(keys, " "), "s.example.org/tDom003") == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("hits of s.example.org/tDom003 = %q, visits %v; want 2 of each by its key", hits, keys)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestBadValueFallsThrough(t *testing.T) {
	r := mustStartRedis(t)
	for code, value := range map[string]string{
		"tBad001": "javascript:alert(1)",
		"tBad002": "https://example.com/\r\nSet-Cookie: x=y",
		"tBad003": "//evil.example/",
		"tBad004": "",
		"tBad005": "+javascript:alert(1)",
		"tBad006": "+",
	} {
		mustDo(t, r.addr, "SET", "code:"+code, value)
	}
	h, next := mustNewConnected(t, testConfig(r.addr, "13s"))
	for _, code := range []string{"tBad001", "tBad002", "tBad003", "tBad004", "tBad005", "tBad006"} {
		if rec := serve(h, "GET", "/"+code); rec.Code != http.StatusTeapot {
			t.Errorf("%s: status = %d, Location %q; want it passed on", code, rec.Code, rec.Header().Get("Location"))
		}
	}
	if next.called != 6 {
		t.Errorf("next called %d times, want 6", next.called)
	}
	if got := h.(*Kurz).edge.snapshot().badValues; got != 5 { // an empty value is a miss
		t.Errorf("badValues = %d, want 5", got)
	}
}

func TestHotCacheExpiry(t *testing.T) {
	r := mustStartRedis(t)
	mustDo(t, r.addr, "SET", "code:tExp001", "https://example.com/expiring")
	h, _ := mustNewConnected(t, testConfig(r.addr, "100ms"))
	if got := serve(h, "GET", "/tExp001").Code; got != 301 {
		t.Fatalf("first = %d", got)
	}
	mustDo(t, r.addr, "DEL", "code:tExp001")
	if got := serve(h, "GET", "/tExp001").Code; got != 301 {
		t.Fatalf("from hot cache = %d, want 301", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for serve(h, "GET", "/tExp001").Code == 301 {
		if time.Now().After(deadline) {
			t.Fatal("hot cache entry never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHotCacheBounded(t *testing.T) {
	r := mustStartRedis(t)
	codes := []string{"tBnd001", "tBnd002", "tBnd003", "tBnd004"}
	for _, code := range codes {
		mustDo(t, r.addr, "SET", "code:"+code, "https://example.com/"+code)
	}
	cfg := testConfig(r.addr, "19s")
	cfg.HotCacheSize = 3
	h, _ := mustNewConnected(t, cfg)
	for _, code := range codes {
		if got := serve(h, "GET", "/"+code).Code; got != 301 {
			t.Fatalf("%s: %d", code, got)
		}
	}
	hot := h.(*Kurz).hot
	if got, want := hot.len(), 3; got != want {
		t.Errorf("len = %d, want %d", got, want)
	}
	hits := map[string]int64{}
	hot.takeHits(hits)
	if got, want := sum(hits), int64(4); got != want || len(hits) != 4 {
		t.Errorf("swept hits = %v, want one for each code, the evicted one too", hits)
	}
}

func TestCountsHits(t *testing.T) {
	r := mustStartRedis(t)
	mustDo(t, r.addr, "SET", "code:tCnt001", "https://example.com/counted")
	h, _ := mustNewConnected(t, testConfig(r.addr, "14s"))
	for i := 0; i < 5; i++ { // one from Redis, four from the hot cache
		if got := serve(h, "GET", "/tCnt001").Code; got != 301 {
			t.Fatalf("status = %d", got)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		cl := mustDo(t, r.addr, "HGET", "hits", "tCnt001")
		if cl.val == "5" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hits field = %q, want 5", cl.val)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRedisDown(t *testing.T) {
	r := mustStartRedis(t)
	mustDo(t, r.addr, "SET", "code:tDown01", "https://example.com/down")
	cfg := testConfig(r.addr, "15s")
	cfg.DisableHotCache = true
	h, next := mustNewConnected(t, cfg)
	e := h.(*Kurz).edge
	if got := serve(h, "GET", "/tDown01").Code; got != 301 {
		t.Fatalf("before outage = %d", got)
	}
	r.stop()

	t.Run("FallsThrough", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			if got := serve(h, "GET", "/tDown01").Code; got != http.StatusTeapot {
				t.Fatalf("status = %d, want it passed on", got)
			}
		}
		if next.called != 20 {
			t.Errorf("next called %d times, want 20", next.called)
		}
	})
	t.Run("BreakerOpens", func(t *testing.T) {
		e.redis.mu.Lock()
		failures := e.redis.failures
		e.redis.mu.Unlock()
		// The 20 requests and the hit flusher together may dial a few times across
		// cooldowns on a slow machine, never once per request. (The first failure,
		// a closed connection, is dialled again at once; that dial opens the breaker.)
		if failures < 1 || failures > 5 {
			t.Errorf("connection attempts failed %d times for 20 requests, want 1 to 5 (the breaker stops them)", failures)
		}
	})
	t.Run("Recovers", func(t *testing.T) {
		r.start(t)
		mustDo(t, r.addr, "SET", "code:tDown01", "https://example.com/down") // it keeps no data
		deadline := time.Now().Add(5 * time.Second)
		for serve(h, "GET", "/tDown01").Code != 301 {
			if time.Now().After(deadline) {
				t.Fatal("never recovered after Redis came back")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func TestAuthAndSelect(t *testing.T) {
	r := mustStartRedis(t, "--requirepass", "s3cret")
	c := newRedisClient(redisOptions{addr: r.addr, password: "s3cret", db: 2, dialTimeout: time.Second, readTimeout: time.Second, cooldown: time.Millisecond})
	if _, err := c.do("SET", "code:tAuth01", "https://example.com/auth"); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(r.addr, "16s")
	cfg.RedisPassword = "s3cret"
	cfg.RedisDB = 2
	h, _ := mustNewConnected(t, cfg)
	if got := serve(h, "GET", "/tAuth01").Code; got != 301 {
		t.Errorf("with AUTH and SELECT = %d, want 301", got)
	}
	cfg = testConfig(r.addr, "17s")
	cfg.RedisPassword = "wrong"
	h, _ = mustNew(t, cfg)
	if got := serve(h, "GET", "/tAuth01").Code; got != http.StatusTeapot {
		t.Errorf("with a wrong password = %d, want it passed on", got)
	}
}

// Many concurrent lookups share one pipelined connection and each gets its own reply.
func TestConcurrentLookups(t *testing.T) {
	r := mustStartRedis(t)
	const n = 200
	for i := 0; i < n; i++ {
		mustDo(t, r.addr, "SET", "code:"+concCode(i), "https://example.com/"+strconv.Itoa(i))
	}
	cfg := testConfig(r.addr, "18s")
	cfg.DisableHotCache = true
	h, _ := mustNewConnected(t, cfg)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rec := serve(h, "GET", "/"+concCode(i))
			if got, want := rec.Header().Get("Location"), "https://example.com/"+strconv.Itoa(i); got != want {
				errs <- got + " != " + want
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func concCode(i int) string {
	s := strconv.Itoa(i)
	return "tCc" + strings.Repeat("0", 4-len(s)) + s
}

// A code announced on the invalidation channel leaves the hot cache at once.
func TestInvalidation(t *testing.T) {
	r := mustStartRedis(t)
	mustDo(t, r.addr, "SET", "code:tInv001", "https://example.com/before")
	h, _ := mustNewConnected(t, testConfig(r.addr, "1h"))
	if loc := serve(h, "GET", "/tInv001").Header().Get("Location"); loc != "https://example.com/before" {
		t.Fatalf("Location = %q", loc)
	}
	mustDo(t, r.addr, "SET", "code:tInv001", "https://example.com/after")
	deadline := time.Now().Add(5 * time.Second)
	for serve(h, "GET", "/tInv001").Header().Get("Location") != "https://example.com/after" {
		if time.Now().After(deadline) {
			t.Fatal("the hot cache kept the old target although it was invalidated")
		}
		mustDo(t, r.addr, "PUBLISH", "kurz:invalidate", "tInv001") // again, until the subscription is up
		time.Sleep(20 * time.Millisecond)
	}
}
