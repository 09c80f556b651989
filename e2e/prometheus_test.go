package e2e_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/internal/testenv"
)

// promQuery asks Prometheus for the value of a one-series instant query; ok is false without a result.
func promQuery(tb testing.TB, p *stack.Prometheus, query string) (float64, bool) {
	tb.Helper()
	res, err := http.Get(p.URL() + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Status != "success" {
		tb.Fatalf("query %s: %v (status %q)", query, err, body.Status)
	}
	if len(body.Data.Result) != 1 {
		return 0, false
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// waitForQuery polls query until it has the value want, within the deadline.
func waitForQuery(tb testing.TB, p *stack.Prometheus, query string, want float64, within time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		got, ok := promQuery(tb, p, query)
		if ok && got == want {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s = %v (present %v) after %s, want %v", query, got, ok, within, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Prometheus, scraping the backends as make run's KURZ_PROMETHEUS=true does,
// sees exactly the redirects the edge answered from its hot cache.
func TestPrometheusSeesTheEdge(t *testing.T) {
	s := testenv.NewStack(t, map[string]string{"KURZ_EDGE_HOT_CACHE_TTL": "5m"}, func(c *stack.Config) {
		c.PrometheusPort = testenv.FreePort(t)
	})
	created := do(t, "POST", s.Traefik.URL()+"/api/shorten", "application/json", `{"url":"https://example.com/e2e/prometheus"}`)
	code, _ := created.Body["short_code"].(string)
	if created.Status != http.StatusCreated || code == "" {
		t.Fatalf("shorten: %d %s", created.Status, created.Raw)
	}
	hot := `max by (edge) (kurz_edge_answers_total{source="hot"})`
	fromRedis := `max by (edge) (kurz_edge_answers_total{source="redis"})`
	if r := do(t, "GET", s.Traefik.URL()+"/"+code, "", ""); r.Status != http.StatusMovedPermanently {
		t.Fatalf("first redirect: %d", r.Status)
	}
	waitForQuery(t, s.Prometheus, fromRedis, 1, 20*time.Second) // the first, from Redis, fills the hot cache
	waitForQuery(t, s.Prometheus, hot, 0, 5*time.Second)

	const redirects = 1000
	for i := 0; i < redirects; i++ {
		if r := do(t, "GET", s.Traefik.URL()+"/"+code, "", ""); r.Status != http.StatusMovedPermanently {
			t.Fatalf("redirect %d: %d", i, r.Status)
		}
	}
	waitForQuery(t, s.Prometheus, hot, redirects, 10*time.Second)
	time.Sleep(3 * time.Second) // two more publications and scrapes: nothing more is added
	for _, q := range []struct {
		query string
		want  float64
	}{{hot, redirects}, {fromRedis, 1}, {`max by (edge) (kurz_edge_passed_total{reason="miss"})`, 0}, {`max(kurz_edge_breaker_open)`, 0}, {`max(kurz_edges)`, 1}} {
		if got, ok := promQuery(t, s.Prometheus, q.query); !ok || got != q.want {
			t.Errorf("%s = %v (present %v), want %v", q.query, got, ok, q.want)
		}
	}
	if ratio, ok := promQuery(t, s.Prometheus, "kurz:edge_hit_ratio:rate1m"); !ok || ratio != 1 {
		t.Errorf("the recording rule kurz:edge_hit_ratio:rate1m = %v (present %v), want 1: every code-shaped request was answered at the edge", ratio, ok)
	}
}
