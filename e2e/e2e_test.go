package e2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

func TestCreateAndRedirectThroughTraefik(t *testing.T) {
	s := MustStack(t)
	target := "https://example.com/e2e/create?x=1"
	res := shorten(t, s, target)
	if res.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", res.Status, res.Raw)
	}
	code := res.Body["short_code"].(string)
	if got, want := res.Body["short_url"], s.Traefik.URL()+"/"+code; got != want {
		t.Errorf("short_url = %v, want %v", got, want)
	}
	if again := shorten(t, s, target); again.Status != http.StatusOK || again.Body["short_code"] != code {
		t.Errorf("again = %d %s", again.Status, again.Raw)
	}
	t.Run("Redirect", func(t *testing.T) {
		r := do(t, "GET", s.Traefik.URL()+"/"+code, "", "")
		if r.Status != http.StatusMovedPermanently || r.Header.Get("Location") != target {
			t.Fatalf("GET = %d Location %q", r.Status, r.Header.Get("Location"))
		}
	})
	t.Run("EdgeAnswersWithAllBackendsStopped", func(t *testing.T) {
		withBackendsStopped(t, s, func() {
			for _, method := range []string{"GET", "HEAD"} {
				r := do(t, method, s.Traefik.URL()+"/"+code, "", "")
				if r.Status != http.StatusMovedPermanently || r.Header.Get("Location") != target {
					t.Errorf("%s with no backend = %d Location %q", method, r.Status, r.Header.Get("Location"))
				}
			}
			if r := do(t, "GET", s.Traefik.URL()+"/health", "", ""); r.Status < 500 {
				t.Errorf("/health with no backend = %d, want a 5xx (proof that backends are down)", r.Status)
			}
		})
	})
}

func TestCacheMissGoesToBackendThenEdge(t *testing.T) {
	s := MustStack(t)
	rc := MustRedis(t, s)
	code := MustShorten(t, s, "https://example.com/e2e/miss")
	rc.Del(bg, link.CodeKey(code))

	before := backendRedirects(t, s)
	if r := do(t, "GET", s.Traefik.URL()+"/"+code, "", ""); r.Status != http.StatusMovedPermanently {
		t.Fatalf("miss = %d %s", r.Status, r.Raw)
	}
	if got := backendRedirects(t, s) - before; got != 1 {
		t.Errorf("backends served %d redirects for a Redis miss, want 1", got)
	}
	if v, _ := rc.Get(bg, link.CodeKey(code)).Result(); v != "https://example.com/e2e/miss" {
		t.Fatalf("backend did not fill Redis: %q", v)
	}
	before = backendRedirects(t, s)
	if r := do(t, "GET", s.Traefik.URL()+"/"+code, "", ""); r.Status != http.StatusMovedPermanently {
		t.Fatalf("hit = %d", r.Status)
	}
	if got := backendRedirects(t, s) - before; got != 0 {
		t.Errorf("backends served %d redirects after Redis was filled, want 0 (the edge answers)", got)
	}
}

func TestCountsEdgeHits(t *testing.T) {
	s := MustStack(t)
	code := MustShorten(t, s, "https://example.com/e2e/counted")
	for i := 0; i < 7; i++ {
		do(t, "GET", s.Traefik.URL()+"/"+code, "", "")
	}
	eventually(t, 10*time.Second, func() error { // the edge flushes every second, backends fold every 200 ms
		if n := queryInt(t, s, `SELECT access_count FROM url_mappings WHERE short_code = $1`, code); n != 7 {
			return fmt.Errorf("access_count = %d, want 7", n)
		}
		return nil
	})
}

func TestErrorsThroughTraefik(t *testing.T) {
	s := MustStack(t)
	for _, tc := range []struct {
		name, method, path, contentType, body string
		status                                int
		code                                  string
	}{
		{"ErrUnknownCode", "GET", "/zzzzzzz", "", "", 404, "not_found"},
		{"ErrNotACode", "GET", "/no-such-page", "", "", 404, "not_found"},
		{"ErrMalformedJSON", "POST", "/api/shorten", "application/json", `{"url":`, 400, "invalid_request"},
		{"ErrUnknownField", "POST", "/api/shorten", "application/json", `{"url":"https://a.example/","b":1}`, 400, "invalid_request"},
		{"ErrTooLarge", "POST", "/api/shorten", "application/json", `{"url":"https://a.example/` + strings.Repeat("a", 9000) + `"}`, 413, "payload_too_large"},
		{"ErrContentType", "POST", "/api/shorten", "text/plain", `{"url":"https://a.example/"}`, 415, "unsupported_media_type"},
		{"ErrJavascript", "POST", "/api/shorten", "application/json", `{"url":"javascript:alert(1)"}`, 422, "invalid_url"},
		{"ErrCredentials", "POST", "/api/shorten", "application/json", `{"url":"https://bank.com@evil.example"}`, 422, "invalid_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, s.Traefik.URL()+tc.path, tc.contentType, tc.body)
			if r.Status != tc.status || errorCode(r) != tc.code {
				t.Errorf("got %d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	s := MustStack(t)
	var limited atomic.Int64
	var retryAfter atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				r, err := tryDo("POST", s.Traefik.URL()+"/api/shorten", "application/json", `{"url":"https://example.com/e2e/rate"}`)
				if err == nil && r.Status == http.StatusTooManyRequests {
					limited.Add(1)
					retryAfter.Store(r.Header.Get("Retry-After"))
				}
			}
		}()
	}
	wg.Wait()
	if limited.Load() == 0 {
		t.Fatal("320 fast creations were never limited (100/s, burst 50)")
	}
	if v, _ := retryAfter.Load().(string); v == "" {
		t.Error("429 without Retry-After")
	}
	time.Sleep(1500 * time.Millisecond) // let the bucket refill for the other tests
}

func TestReplicaDiesUnderTraffic(t *testing.T) {
	s := MustStack(t)
	waitHealthy(t, s, 3)
	var failures, total atomic.Int64
	stop := startLoad(4, func() {
		r, err := tryDo("GET", s.Traefik.URL()+"/health", "", "")
		total.Add(1)
		if err != nil || r.Status != http.StatusOK {
			failures.Add(1)
		}
		time.Sleep(5 * time.Millisecond)
	})
	time.Sleep(500 * time.Millisecond)
	victim := s.Backends[1]
	victim.Kill()
	time.Sleep(2500 * time.Millisecond) // past the 1 s health check interval
	failedBefore := failures.Load()
	time.Sleep(1500 * time.Millisecond)
	stop()
	if got := failures.Load() - failedBefore; got != 0 {
		t.Errorf("%d requests failed after the health-check window", got)
	}
	t.Logf("%d requests, %d failed in all (retries cover most of the window)", total.Load(), failures.Load())

	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, s, 3)
}

func TestTraefikShowsPluginAndMetrics(t *testing.T) {
	s := MustStack(t)
	mw := do(t, "GET", s.Traefik.APIURL()+"/api/http/middlewares/kurz-edge@file", "", "")
	if mw.Status != 200 || mw.Body["status"] != "enabled" || mw.Body["type"] != "kurz" {
		t.Errorf("kurz-edge middleware = %d %s", mw.Status, mw.Raw)
	}
	rt := do(t, "GET", s.Traefik.APIURL()+"/api/http/routers/kurz-redirect@file", "", "")
	if rt.Body["status"] != "enabled" {
		t.Errorf("kurz-redirect router = %s", rt.Raw)
	}
	if r := do(t, "GET", s.Traefik.APIURL()+"/ping", "", ""); r.Status != 200 {
		t.Errorf("ping = %d", r.Status)
	}
	t.Run("MetricsOffByDefault", func(t *testing.T) { // they cost a quarter of a redirect's rate and more
		if m := do(t, "GET", s.Traefik.APIURL()+"/metrics", "", ""); m.Status != http.StatusNotFound {
			t.Errorf("/metrics = %d, want 404 with the shipped defaults", m.Status)
		}
	})
	for _, tc := range []struct {
		mode         string
		want, absent []string
	}{
		{"entrypoints", []string{"traefik_entrypoint_requests_total"}, []string{"traefik_router_requests_total"}},
		{"all", []string{"traefik_entrypoint_requests_total", "traefik_router_requests_total", "traefik_service_requests_total"}, nil},
	} {
		t.Run("Metrics="+tc.mode, func(t *testing.T) {
			s := testenv.NewStack(t, map[string]string{"KURZ_TRAEFIK_METRICS": tc.mode})
			do(t, "GET", s.Traefik.URL()+"/health", "", "")
			m := do(t, "GET", s.Traefik.APIURL()+"/metrics", "", "")
			for _, want := range tc.want {
				if !strings.Contains(m.Raw, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
			for _, absent := range tc.absent {
				if strings.Contains(m.Raw, absent) {
					t.Errorf("metrics have %s", absent)
				}
			}
		})
	}
}

// With Redis down the replicas stay in the pool: redirects and creation go on from Postgres.
func TestRedisDownThroughTraefik(t *testing.T) {
	s := MustStack(t)
	code := MustShorten(t, s, "https://example.com/e2e/redis-down")
	s.Redis.Stop()
	defer func() {
		if err := s.Redis.Start(); err != nil {
			t.Fatal(err)
		}
		waitHealthy(t, s, len(s.Backends))
	}()
	time.Sleep(2500 * time.Millisecond) // two health-check intervals
	if r := do(t, "GET", s.Traefik.URL()+"/"+code, "", ""); r.Status != http.StatusMovedPermanently {
		t.Errorf("redirect with Redis down = %d %s", r.Status, r.Raw)
	}
	if r := shorten(t, s, "https://example.com/e2e/created-without-redis"); r.Status != http.StatusCreated {
		t.Errorf("create with Redis down = %d %s", r.Status, r.Raw)
	}
	if r := do(t, "GET", s.Traefik.URL()+"/health", "", ""); r.Status != http.StatusServiceUnavailable {
		t.Errorf("/health with Redis down = %d, want 503 (it reports, the pool uses /health/ready)", r.Status)
	}
	if r := do(t, "GET", s.Backends[0].URL()+"/health/live", "", ""); r.Status != http.StatusOK {
		t.Errorf("/health/live with Redis down = %d, want 200 (a liveness probe must not restart the replica)", r.Status)
	}
}
