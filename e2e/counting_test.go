package e2e_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/internal/testenv"
)

// edgeFlushInterval is the plugin's flushInterval in traefik/dynamic/kurz.yml.
const edgeFlushInterval = 200 * time.Millisecond

// MustVisit asks for code through Traefik n times and wants a redirect each time.
func MustVisit(tb testing.TB, s *stack.Stack, code string, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		if res := do(tb, "GET", s.Traefik.URL()+"/"+code, "", ""); res.Status != http.StatusMovedPermanently && res.Status != http.StatusFound {
			tb.Fatalf("GET /%s = %d %s", code, res.Status, res.Raw)
		}
	}
}

func accessCount(tb testing.TB, s *stack.Stack, code string) int64 {
	tb.Helper()
	return queryInt(tb, s, `SELECT access_count FROM url_mappings WHERE short_code = $1`, code)
}

// mustCount waits for the access count of code to be want, and checks it stays so.
func mustCount(tb testing.TB, s *stack.Stack, code string, want int64) {
	tb.Helper()
	eventually(tb, 10*time.Second, func() error {
		if got := accessCount(tb, s, code); got != want {
			return fmt.Errorf("access_count of %s = %d, want %d", code, got, want)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	if got := accessCount(tb, s, code); got != want {
		tb.Fatalf("access_count of %s = %d later, want %d: counted twice", code, got, want)
	}
}

// A clean stop, as Ctrl-C of make run does it (Traefik, then each replica),
// leaves every visit in Postgres: none waits in a process or in Redis.
func TestCleanStopLosesNoVisit(t *testing.T) {
	s := testenv.NewStack(t, nil)
	edge := MustShorten(t, s, "https://example.com/e2e/clean-stop-edge")
	limited := do(t, "POST", s.Traefik.URL()+"/api/shorten", "application/json", `{"url":"https://example.com/e2e/clean-stop-limited","max_visits":100,"redirect":302}`)
	if limited.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", limited.Status, limited.Raw)
	}
	MustVisit(t, s, edge, 20) // the first from a backend, then the edge
	MustVisit(t, s, limited.Body["short_code"].(string), 3)
	s.Traefik.Stop()
	for _, b := range s.Backends {
		b.Stop()
	}
	if got, want := accessCount(t, s, edge), int64(20); got != want {
		t.Errorf("access_count after a clean stop = %d, want %d", got, want)
	}
	if got, want := accessCount(t, s, limited.Body["short_code"].(string)), int64(3); got != want {
		t.Errorf("access_count of the limited link = %d, want %d", got, want)
	}
}

// Traefik killed outright loses at most what it counted in its last flush
// interval: visits older than that are all counted, exactly once.
func TestTraefikKillLosesAtMostOneFlushInterval(t *testing.T) {
	s := testenv.NewStack(t, nil)
	code := MustShorten(t, s, "https://example.com/e2e/traefik-kill")
	MustVisit(t, s, code, 50)
	time.Sleep(2*edgeFlushInterval + 100*time.Millisecond)
	s.Traefik.Kill()
	if err := s.Traefik.Start(); err != nil {
		t.Fatal(err)
	}
	mustCount(t, s, code, 50)

	t.Run("Bound", func(t *testing.T) { // killed amid a stream of visits: measure what is lost
		code := MustShorten(t, s, "https://example.com/e2e/traefik-kill-bound")
		MustVisit(t, s, code, 1)
		var sent atomic.Int64
		stop := startLoad(4, func() {
			if res, err := tryDo("GET", s.Traefik.URL()+"/"+code, "", ""); err == nil && res.Status == http.StatusMovedPermanently {
				sent.Add(1)
			}
		})
		time.Sleep(time.Second)
		start := sent.Load()
		time.Sleep(time.Second)
		rate := float64(sent.Load()-start) / 1
		s.Traefik.Kill()
		stop()
		if err := s.Traefik.Start(); err != nil {
			t.Fatal(err)
		}
		served := sent.Load() + 1
		time.Sleep(2 * time.Second)
		lost := served - accessCount(t, s, code)
		bound := int64(rate*(edgeFlushInterval+50*time.Millisecond).Seconds()) + 1
		t.Logf("Traefik SIGKILL at %.0f redirects/s: %d of %d visits lost (bound: one flush interval, %d)", rate, lost, served, bound)
		if lost < 0 || lost > bound {
			t.Errorf("lost %d visits, want 0 to %d (one flush interval at %.0f/s); negative means counted twice", lost, bound, rate)
		}
	})
}

// A Postgres outage, with backends killed during it, loses no visit.
func TestPostgresOutageWithBackendsKilledLosesNoVisit(t *testing.T) {
	s := testenv.NewStack(t, nil)
	code := MustShorten(t, s, "https://example.com/e2e/pg-outage")
	MustVisit(t, s, code, 5)
	mustCount(t, s, code, 5)
	s.Postgres.Stop()
	MustVisit(t, s, code, 30) // the edge and the replicas serve it from Redis
	time.Sleep(time.Second)   // pushed, taken into a batch, not committed
	s.Backends[0].Kill()
	s.Backends[1].Kill()
	time.Sleep(500 * time.Millisecond)
	if err := s.Postgres.Start(); err != nil {
		t.Fatal(err)
	}
	for _, b := range s.Backends[:2] {
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
	}
	mustCount(t, s, code, 35)
}

// A stalled Postgres (SIGSTOP) while visits are folded: nothing counted twice or lost.
func TestStalledPostgresCountsExactlyOnce(t *testing.T) {
	s := testenv.NewStack(t, map[string]string{"KURZ_POSTGRES_TIMEOUT": "500ms"})
	code := MustShorten(t, s, "https://example.com/e2e/pg-stall")
	MustVisit(t, s, code, 1)
	mustCount(t, s, code, 1)
	if err := s.Postgres.Signal(sigStop); err != nil {
		t.Fatal(err)
	}
	MustVisit(t, s, code, 40)
	time.Sleep(1500 * time.Millisecond)
	if err := s.Postgres.Signal(sigCont); err != nil {
		t.Fatal(err)
	}
	mustCount(t, s, code, 41)
}

// A replica SIGKILLed under load: requests already written on its pooled
// connections must not fail; GET and HEAD are idempotent, so they are retried.
func TestReplicaKilledUnderLoadFailsNoIdempotentRequest(t *testing.T) {
	s := testenv.NewStack(t, map[string]string{"KURZ_HEALTHCHECK_INTERVAL": "1s"})
	// A 302 link is never served at the edge: every redirect reaches a replica.
	res := do(t, "POST", s.Traefik.URL()+"/api/shorten", "application/json", `{"url":"https://example.com/e2e/proxied","redirect":302}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", res.Status, res.Raw)
	}
	proxied := res.Body["short_code"].(string)
	paths := []struct{ method, path string }{
		{"GET", "/" + proxied}, {"HEAD", "/" + proxied}, {"GET", "/health"}, {"GET", "/"}, {"HEAD", "/" + proxied + "/qr"},
	}
	var total, failed atomic.Int64
	var n atomic.Int64
	var first atomic.Value
	stop := startLoad(8, func() {
		p := paths[int(n.Add(1))%len(paths)]
		r, err := tryDo(p.method, s.Traefik.URL()+p.path, "", "")
		total.Add(1)
		if err != nil || r.Status >= 400 {
			failed.Add(1)
			first.CompareAndSwap(nil, fmt.Sprintf("%s %s: %v %d %s", p.method, p.path, err, r.Status, r.Raw))
		}
	})
	time.Sleep(time.Second)
	s.Backends[1].Kill()
	time.Sleep(3 * time.Second) // past the health check's notice
	stop()
	t.Logf("%d requests across the kill, %d failed", total.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d GET/HEAD requests failed across the kill, want 0; first: %v", failed.Load(), first.Load())
	}
}
