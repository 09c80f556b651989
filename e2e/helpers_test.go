package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// MustStack is the shared stack with settings that keep the tests short.
func MustStack(tb testing.TB) *stack.Stack {
	tb.Helper()
	return testenv.SharedStack(tb, map[string]string{
		"KURZ_HEALTHCHECK_INTERVAL": "1s",
		"KURZ_HIT_FLUSH_INTERVAL":   "200ms",
	})
}

type response = testenv.Response

func do(tb testing.TB, method, url, contentType, body string) response {
	tb.Helper()
	return testenv.Do(tb, method, url, body, "Content-Type", contentType)
}

func tryDo(method, url, contentType, body string) (response, error) {
	return testenv.Send(method, url, body, "Content-Type", contentType)
}

// tryDoKey sends a JSON body with an API key.
func tryDoKey(method, url, key, body string) (response, error) {
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return testenv.Send(method, url, body, "Content-Type", ct, "Authorization", "Bearer "+key)
}

func shorten(tb testing.TB, s *stack.Stack, url string) response {
	tb.Helper()
	b, _ := json.Marshal(map[string]string{"url": url})
	return do(tb, "POST", s.Traefik.URL()+"/api/shorten", "application/json", string(b))
}

func MustShorten(tb testing.TB, s *stack.Stack, url string) string {
	tb.Helper()
	res := shorten(tb, s, url)
	if res.Status != 201 && res.Status != 200 {
		tb.Fatalf("shorten %s: %d %s", url, res.Status, res.Raw)
	}
	return res.Body["short_code"].(string)
}

func errorCode(r response) string { return r.ErrorCode() }

func MustRedis(tb testing.TB, s *stack.Stack) *goredis.Client {
	tb.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: s.Redis.Addr()})
	tb.Cleanup(func() { c.Close() })
	return c
}

// backendRedirects sums kurz_http_requests_total{route="redirect"} over the running replicas.
func backendRedirects(tb testing.TB, s *stack.Stack) int {
	tb.Helper()
	return int(sumMetric(tb, s, `kurz_http_requests_total{route="redirect"`))
}

// postgresLookups sums the backends' Postgres lookups of a link by code
// (on the primary or a replica).
func postgresLookups(tb testing.TB, s *stack.Stack) int {
	tb.Helper()
	return int(sumMetric(tb, s, `kurz_postgres_query_duration_seconds_count{op="find_by_code"`) +
		sumMetric(tb, s, `kurz_postgres_query_duration_seconds_count{op="read_link_replica"`))
}

// sumMetric sums the samples whose line starts with prefix over the running replicas.
func sumMetric(tb testing.TB, s *stack.Stack, prefix string) float64 {
	tb.Helper()
	total := 0.0
	for _, b := range s.Backends {
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", b.MetricsPort))
		if err != nil {
			continue // a stopped replica
		}
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, prefix) {
				f := strings.Fields(line)
				n, _ := strconv.ParseFloat(f[len(f)-1], 64)
				total += n
			}
		}
		res.Body.Close()
	}
	return total
}

// withBackendsStopped stops every replica, runs f, and starts them again.
func withBackendsStopped(tb testing.TB, s *stack.Stack, f func()) {
	tb.Helper()
	for _, b := range s.Backends {
		b.Stop()
	}
	defer func() {
		for _, b := range s.Backends {
			if err := b.Start(); err != nil {
				tb.Fatal(err)
			}
		}
		waitHealthy(tb, s, len(s.Backends))
	}()
	f()
}

// waitHealthy waits until Traefik sees n healthy servers in the backend pool.
func waitHealthy(tb testing.TB, s *stack.Stack, n int) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res := do(tb, "GET", s.Traefik.APIURL()+"/api/http/services/kurz-backend@file", "", "")
		up := 0
		if st, ok := res.Body["serverStatus"].(map[string]any); ok {
			for _, v := range st {
				if v == "UP" {
					up++
				}
			}
		}
		if up == n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d servers UP: %s", up, n, res.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var eventually = testenv.Eventually

var bg = context.Background()

// startLoad runs request in a loop on workers goroutines until the returned stop is called.
func startLoad(workers int, request func()) (stop func()) {
	return testenv.StartLoad(workers, func(int, int) { request() })
}
