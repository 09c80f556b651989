package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

// invalidationBound is how long after Redis answers again a change may still be served from it.
const invalidationBound = time.Second

// mustPauseRedis stalls every command of r for d, as CLIENT PAUSE does, and returns at once.
func mustPauseRedis(tb testing.TB, c *goredis.Client, d time.Duration) {
	tb.Helper()
	if err := c.Do(context.Background(), "CLIENT", "PAUSE", d.Milliseconds(), "ALL").Err(); err != nil {
		tb.Fatal(err)
	}
}

// mustGone waits until none of keys exists, at most invalidationBound after since.
func mustGone(tb testing.TB, c *goredis.Client, since time.Time, keys ...string) {
	tb.Helper()
	for {
		n, err := c.Exists(context.Background(), keys...).Result()
		if err == nil && n == 0 {
			return
		}
		if time.Since(since) > invalidationBound {
			tb.Fatalf("%v still in Redis %s after it answered again", keys, time.Since(since).Round(time.Millisecond))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A PATCH or DELETE answered while Redis stalls reaches Redis once it answers
// again, even when the client hung up after sending it.
func TestChangesReachRedisThroughAStall(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	key := MustCreateKey(t, db, "ops")
	rc := MustRedisClient(t, rd)
	const pause = 600 * time.Millisecond

	t.Run("Patch", func(t *testing.T) {
		code := MustShorten(t, b.URL, "https://example.com/patched-in-a-stall")
		mustPauseRedis(t, rc, pause)
		res := doKey(t, "PATCH", b.URL+"/api/links/"+code, key, `{"url":"https://example.com/after"}`)
		if res.Status != http.StatusOK {
			t.Fatalf("PATCH = %d %s", res.Status, res.Raw)
		}
		mustGone(t, rc, time.Now().Add(pause), link.CodeKey(code), link.URLHashKey(hashHex("https://example.com/patched-in-a-stall")))
		if got := do(t, "GET", b.URL+"/"+code, "", "").Header.Get("Location"); got != "https://example.com/after" {
			t.Errorf("Location = %q, want the new target", got)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		const target = "https://example.com/deleted-in-a-stall"
		code := MustShorten(t, b.URL, target)
		mustPauseRedis(t, rc, pause)
		if res := doKey(t, "DELETE", b.URL+"/api/links/"+code, key, ""); res.Status != http.StatusNoContent {
			t.Fatalf("DELETE = %d %s", res.Status, res.Raw)
		}
		mustGone(t, rc, time.Now().Add(pause), link.CodeKey(code), link.URLHashKey(hashHex(target)))
		if got := do(t, "GET", b.URL+"/"+code, "", "").Status; got != http.StatusNotFound {
			t.Errorf("GET deleted = %d, want 404", got)
		}
		if again := MustShorten(t, b.URL, target); again == code {
			t.Errorf("posting the deleted URL again gave the deleted code %s", code)
		}
	})
	t.Run("ClientHangsUp", func(t *testing.T) {
		code := MustShorten(t, b.URL, "https://example.com/hung-up")
		mustPauseRedis(t, rc, pause)
		client := &http.Client{Timeout: 100 * time.Millisecond}
		req, _ := http.NewRequest("PATCH", b.URL+"/api/links/"+code, strings.NewReader(`{"url":"https://example.com/hung-up-after"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		if res, err := client.Do(req); err == nil {
			res.Body.Close()
			t.Logf("PATCH answered %d before the client gave up", res.StatusCode)
		}
		mustGone(t, rc, time.Now().Add(pause), link.CodeKey(code))
		// Applied in Redis, then forgotten in Postgres: the row goes a moment after the key.
		testenv.Eventually(t, time.Second, func() error {
			if got := MustQueryInt(t, db, `SELECT count(*) FROM cache_invalidations`); got != 0 {
				return fmt.Errorf("%d invalidations still pending", got)
			}
			return nil
		})
	})
}

// A fill that read Postgres before a PATCH and reaches Redis after it must not
// bring the old target back.
func TestSlowFillCannotUndoAChange(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	db := pg.NewDatabase(t)
	slowRedis := testenv.MustDelayProxy(t, rd.Addr())
	filler := MustStartBackend(t, db, "redis://"+slowRedis.Addr()+"/0", map[string]string{"KURZ_REDIS_TIMEOUT": "2s"})
	changer := MustStartBackend(t, db, rd.URL(), nil)
	key := MustCreateKey(t, db, "ops")
	rc := MustRedisClient(t, rd)

	code := MustShorten(t, changer.URL, "https://example.com/before-the-patch")
	rc.Del(context.Background(), link.CodeKey(code))
	slowRedis.Delay(300*time.Millisecond, 0) // the filler's commands land 300 ms late
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // misses Redis at 300 ms, reads Postgres, its fill lands at about 600 ms
		defer wg.Done()
		do(t, "GET", filler.URL+"/"+code, "", "")
	}()
	time.Sleep(450 * time.Millisecond)
	if res := doKey(t, "PATCH", changer.URL+"/api/links/"+code, key, `{"max_visits":2}`); res.Status != http.StatusOK {
		t.Fatalf("PATCH = %d %s", res.Status, res.Raw)
	}
	wg.Wait()
	slowRedis.Delay(0, 0)
	time.Sleep(100 * time.Millisecond)
	if got, _ := rc.Get(context.Background(), link.CodeKey(code)).Result(); got != "" {
		t.Fatalf("code:%s = %q after the PATCH: the slow fill brought it back", code, got)
	}
	mustAccessCount(t, db, code, 1) // the filler's visit, before the PATCH, counts toward the limit
	statuses := []int{}
	for i := 0; i < 3; i++ {
		statuses = append(statuses, do(t, "GET", changer.URL+"/"+code, "", "").Status)
	}
	if got, want := fmt.Sprint(statuses), "[301 410 410]"; got != want {
		t.Errorf("statuses after max_visits 2 = %s, want %s", got, want)
	}
}

// Clients that hang up are not Redis failures: /health stays healthy.
func TestClientHangupsDoNotOpenTheBreaker(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	b := MustStartBackend(t, pg.NewDatabase(t), rd.URL(), nil)
	addr := strings.TrimPrefix(b.URL, "http://")
	for i := 0; i < 300; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
		c.(*net.TCPConn).SetLinger(0) // reset, as a client that gives up
		c.Close()
	}
	if res := do(t, "GET", b.URL+"/health", "", ""); res.Status != http.StatusOK {
		t.Errorf("/health after 300 reset requests = %d %s", res.Status, res.Raw)
	}
}

// Postgres that commits and answers after the backend gave up: the retry of
// the chunk adds nothing.
func TestCountsExactlyOnceWhenPostgresIsSlow(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	u, _ := url.Parse(db)
	slowPG := testenv.MustDelayProxy(t, u.Host)
	u.Host = slowPG.Addr()
	b := MustStartBackend(t, u.String(), rd.URL(), map[string]string{"KURZ_POSTGRES_TIMEOUT": "300ms"})
	code := MustShorten(t, b.URL, "https://example.com/slow-commit")
	rc := MustRedisClient(t, rd)

	slowPG.Delay(0, 700*time.Millisecond) // answers come after the backend's timeout
	rc.HSet(context.Background(), link.HitsKey, code, 5)
	time.Sleep(2 * time.Second)
	slowPG.Delay(0, 0)
	mustAccessCount(t, db, code, 5)
}

// A backend that took a batch and died leaves it in Redis; the next folder adds it once.
func TestAbandonedBatchIsFolded(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	code := MustShorten(t, b.URL, "https://example.com/abandoned")
	b.Stop(t)
	rc := MustRedisClient(t, rd)
	ctx := context.Background()
	// What a folder leaves when killed after taking and applying one chunk of the batch.
	rc.HSet(ctx, link.HitsBatchKeyPrefix+"dead", code, 7)
	rc.Set(ctx, link.HitsFoldingKey, link.HitsBatchKeyPrefix+"dead", 0)
	rc.Set(ctx, link.HitsLeaseKey, "dead-backend", link.HitsLeaseTTL)
	rc.HSet(ctx, link.HitsKey, code, 2) // pushed meanwhile
	MustStartBackend(t, db, rd.URL(), nil)
	mustAccessCount(t, db, code, 9)
}

// A backlog of a million pending codes is folded within a minute, exactly.
func TestBacklogOfAMillionCodesDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("a million codes")
	}
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	b.Stop(t) // migrated; the folder of the test starts below
	const links, codes = 100_000, 1_000_000
	mustExec(t, db, `INSERT INTO url_mappings (id, short_code, original_url, url_hash)
		SELECT i, 'L' || lpad(i::text, 6, '0'), 'https://example.com/' || i, sha256(i::text::bytea)
		FROM generate_series(1, $1) AS i`, links)
	rc := MustRedisClient(t, rd)
	ctx := context.Background()
	var want int64
	for start := 0; start < codes; start += 10000 {
		fields := make([]any, 0, 20000)
		for i := start; i < start+10000; i++ {
			n := int64(i%7 + 1)
			if i < links {
				fields = append(fields, fmt.Sprintf("L%06d", i+1), n)
				want += n
			} else {
				fields = append(fields, fmt.Sprintf("U%06d", i), n) // links that no longer exist
			}
		}
		if err := rc.HSet(ctx, link.HitsKey, fields...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	MustStartBackend(t, db, rd.URL(), nil)
	testenv.Eventually(t, time.Minute, func() error {
		if n, _ := rc.Exists(ctx, link.HitsKey, link.HitsFoldingKey).Result(); n != 0 {
			return fmt.Errorf("%d keys still pending", n)
		}
		return nil
	})
	t.Logf("folded %d codes in %s", codes, time.Since(start).Round(time.Millisecond))
	if got := MustQueryInt(t, db, `SELECT sum(access_count)::bigint FROM url_mappings`); got != want {
		t.Errorf("sum of access_count = %d, want %d", got, want)
	}
}

// The backend checks a cached target as the edge does; a bad one is repaired from Postgres.
func TestBackendRefusesUnsafeCachedTargets(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	b := MustStartBackend(t, pg.NewDatabase(t), rd.URL(), nil)
	rc := MustRedisClient(t, rd)
	const target = "https://example.com/real-target"
	code := MustShorten(t, b.URL, target)
	for _, bad := range []string{"javascript:alert(1)", "//evil.example/x", `https:\\evil.example\x`, `https://evil.example\@example.com/`,
		"https://example.com/\r\nSet-Cookie: a=b", "https://example.com/" + strings.Repeat("a", link.MaxTargetBytes)} {
		rc.Set(context.Background(), link.CodeKey(code), bad, time.Hour)
		rc.Set(context.Background(), link.CodeKey("AAAAAAA"), bad, time.Hour)
		res := do(t, "GET", b.URL+"/"+code, "", "")
		if got := res.Header.Get("Location"); res.Status != http.StatusMovedPermanently || got != target {
			t.Errorf("cached %.40q: %d Location %q, want 301 to %s", bad, res.Status, got, target)
		}
		if got := do(t, "GET", b.URL+"/AAAAAAA", "", "").Status; got != http.StatusNotFound {
			t.Errorf("cached %.40q for an unknown code: %d, want 404", bad, got)
		}
		if got, _ := rc.Get(context.Background(), link.CodeKey(code)).Result(); got != target {
			t.Errorf("cache after the miss = %.60q, want it repaired", got)
		}
	}
}

// Options set by PATCH take a link out of deduplication: the next post of its
// URL gets a plain link of its own.
func TestPatchedLinkLeavesDeduplication(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	key := MustCreateKey(t, db, "ops")
	const target = "https://example.com/shared"
	for _, patch := range []string{`{"max_visits":3}`, `{"redirect":302}`, `{"expires_at":"2099-01-01T00:00:00Z"}`, `{"max_visits":null}`} {
		code := MustShorten(t, b.URL, target)
		if res := doKey(t, "PATCH", b.URL+"/api/links/"+code, key, patch); res.Status != http.StatusOK {
			t.Fatalf("PATCH %s = %d %s", patch, res.Status, res.Raw)
		}
		res := shorten(t, b.URL, target)
		if res.Status != http.StatusCreated || res.Body["short_code"] == code {
			t.Errorf("after PATCH %s, posting the URL = %d %s; want a new link", patch, res.Status, res.Raw)
		}
	}
}

func TestListSearchIsValidated(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	key := MustCreateKey(t, db, "ops")
	for _, q := range []string{"%00", "a%00b", "%ff%fe"} {
		res := doKey(t, "GET", b.URL+"/api/links?q="+q, key, "")
		if res.Status != http.StatusBadRequest || errorCode(res) != "invalid_request" {
			t.Errorf("q=%s: %d %s, want 400 invalid_request", q, res.Status, res.Raw)
		}
	}
}

func TestFormHonoursRequireAPIKey(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), map[string]string{"KURZ_REQUIRE_API_KEY": "1"})
	res := do(t, "POST", b.URL+"/", "application/x-www-form-urlencoded", "url=https%3A%2F%2Fexample.com%2Fform")
	if res.Status != http.StatusUnauthorized {
		t.Errorf("form post = %d, want 401", res.Status)
	}
	if got := MustQueryInt(t, db, `SELECT count(*) FROM url_mappings`); got != 0 {
		t.Errorf("%d links created, want 0", got)
	}
}

// Aliases are counted like codes, also when pushed at shutdown.
func TestAliasVisitsAreCounted(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), map[string]string{"KURZ_HIT_FLUSH_INTERVAL": "1h"})
	res := do(t, "POST", b.URL+"/api/shorten", "application/json", `{"url":"https://example.com/aliased","alias":"my-alias"}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", res.Status, res.Raw)
	}
	for i := 0; i < 3; i++ {
		do(t, "GET", b.URL+"/my-alias", "", "")
	}
	b.Stop(t)
	mustAccessCount(t, db, "my-alias", 3)
}

func TestConfigIsStrict(t *testing.T) {
	base := map[string]string{"KURZ_CODE_SECRET": testCodeSecret}
	for _, tc := range []struct {
		name, key, value, want string
	}{
		{"OKBoolOne", "KURZ_REQUIRE_API_KEY", "1", ""},
		{"OKBoolFalse", "KURZ_REQUIRE_API_KEY", "false", ""},
		{"OKSecretBase64", "KURZ_CODE_SECRET", "nyxOG3o9X2CBwuSmuNDx46XH6bHT9afJ4bPV96nB47U=", ""},
		{"ErrBoolYes", "KURZ_REQUIRE_API_KEY", "yes", "KURZ_REQUIRE_API_KEY must be true, false, 1 or 0"},
		{"ErrBoolTypo", "KURZ_REQUIRE_API_KEY", "ture", "KURZ_REQUIRE_API_KEY must be true, false, 1 or 0"},
		{"ErrSecretEmpty", "KURZ_CODE_SECRET", "", "KURZ_CODE_SECRET is required"},
		{"ErrSecretPlaceholder", "KURZ_CODE_SECRET", "change-me-to-a-long-random-string", "placeholder"},
		{"ErrSecretShort", "KURZ_CODE_SECRET", "9f2c4e1b7a3d5f6081c2e4a6b8d0f1e3", "holds 16 bytes"},
		{"ErrSecretWord", "KURZ_CODE_SECRET", "test-secret", "KURZ_CODE_SECRET"},
		{"ErrSecretNotRandom", "KURZ_CODE_SECRET", strings.Repeat("00", 32), "does not look random"},
		{"ErrURLLength", "KURZ_MAX_URL_LENGTH", "100000", "KURZ_MAX_URL_LENGTH must be at most"},
		{"OKRetention", "KURZ_ANALYTICS_RETENTION", "2160h", ""},
		{"ErrRetentionShort", "KURZ_ANALYTICS_RETENTION", "30m", "KURZ_ANALYTICS_RETENTION must be at least 24h"},
		{"ErrRetentionDays", "KURZ_ANALYTICS_RETENTION", "90d", "KURZ_ANALYTICS_RETENTION must be a duration"},
		{"ErrAnalyticsBool", "KURZ_ANALYTICS", "off", "KURZ_ANALYTICS must be true, false, 1 or 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{tc.key: tc.value}
			for k, v := range base {
				if _, set := env[k]; !set {
					env[k] = v
				}
			}
			_, err := loadConfig(func(k string) string { return env[k] })
			if tc.want == "" && err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("loadConfig error = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// Redis that may evict the pending counts is refused at start.
func TestRefusesRedisThatEvictsCounts(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	rc := MustRedisClient(t, rd)
	rc.ConfigSet(context.Background(), "maxmemory-policy", "allkeys-lru")
	err := runRefused(t, pg.NewDatabase(t), rd.URL(), nil)
	if err == nil || !strings.Contains(err.Error(), "maxmemory-policy allkeys-lru") || !strings.Contains(err.Error(), "volatile-lru") {
		t.Errorf("run = %v, want a refusal that names the policy and what to set", err)
	}
}

func mustAccessCount(tb testing.TB, db, code string, want int64) {
	tb.Helper()
	testenv.Eventually(tb, 10*time.Second, func() error {
		if got := MustQueryInt(tb, db, `SELECT access_count FROM url_mappings WHERE short_code = $1`, code); got != want {
			return fmt.Errorf("access_count of %s = %d, want %d", code, got, want)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // a late duplicate would show now
	if got := MustQueryInt(tb, db, `SELECT access_count FROM url_mappings WHERE short_code = $1`, code); got != want {
		tb.Fatalf("access_count of %s = %d later, want %d: counted twice", code, got, want)
	}
}

func mustExec(tb testing.TB, databaseURL, sql string, args ...any) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		tb.Fatalf("%s: %v", sql, err)
	}
}

func hashHex(normalizedURL string) string { return backend.HashHex(backend.HashURL("", normalizedURL)) }

// A backend stopping while Redis is out of reach writes its counts to
// Postgres itself, but a batch whose push Redis applied (only its reply was
// lost) is in Redis already: it is parked, and counted in Postgres only if a
// running backend finds that Redis never added it. Counted once either way.
func TestShutdownWithRedisAwayCountsAnAmbiguousPushOnce(t *testing.T) {
	for _, tc := range []struct {
		name         string
		toRedis      time.Duration // how late what the stopping backend sends arrives
		reachesRedis bool
	}{
		{"PushAppliedAnswerLost", 0, true},
		{"PushNeverArrived", 3 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
			db := pg.NewDatabase(t)
			folder := MustStartBackend(t, db, rd.URL(), nil)
			away := testenv.MustDelayProxy(t, rd.Addr())
			stopping := MustStartBackend(t, db, "redis://"+away.Addr()+"/0", nil)
			code := MustShorten(t, folder.URL, "https://example.com/ambiguous-push")
			visit := func() {
				if res := do(t, "GET", stopping.URL+"/"+code, "", ""); res.Status != http.StatusMovedPermanently {
					t.Errorf("visit: %d %s", res.Status, res.Raw)
				}
			}
			var wg sync.WaitGroup // concurrent visits leave the stopping backend's pool with open connections
			for i := 0; i < 10; i++ {
				wg.Add(1)
				go func() { defer wg.Done(); visit() }()
			}
			wg.Wait()
			mustAccessCount(t, db, code, 10)

			away.Delay(tc.toRedis, 3*time.Second) // the answers come too late
			for i := 0; i < 3; i++ {
				visit()
			}
			if tc.reachesRedis {
				testenv.Eventually(t, 10*time.Second, func() error { // a push Redis applied: folded by the other backend
					if got := MustQueryInt(t, db, `SELECT access_count FROM url_mappings WHERE short_code = $1`, code); got <= 10 {
						return fmt.Errorf("access_count = %d: no push reached Redis, the test proves nothing", got)
					}
					return nil
				})
			} else {
				time.Sleep(time.Second) // pushes tried, none arrived
			}
			away.Close() // Redis is out of reach from the stopping backend
			stopping.Stop(t)
			mustAccessCount(t, db, code, 13)
			testenv.Eventually(t, 10*time.Second, func() error { // settled: counted (or found in Redis), then forgotten
				if n := MustQueryInt(t, db, `SELECT count(*) FROM parked_hits`); n != 0 {
					return fmt.Errorf("%d parked batches left, want every one settled", n)
				}
				return nil
			})
			mustAccessCount(t, db, code, 13)
		})
	}
}
