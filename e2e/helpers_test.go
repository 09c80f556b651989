package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
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

var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func do(tb testing.TB, method, url, contentType, body string) response {
	tb.Helper()
	res, err := tryDo(method, url, contentType, body)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

func tryDo(method, url, contentType, body string) (response, error) {
	return tryDoKey(method, url, "", body, contentType)
}

// tryDoKey sends body (JSON when contentType is empty and body is not) with an API key.
func tryDoKey(method, url, key, body string, contentType ...string) (response, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	switch {
	case len(contentType) > 0 && contentType[0] != "":
		req.Header.Set("Content-Type", contentType[0])
	case len(contentType) == 0 && body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out, nil
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

func errorCode(r response) string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func MustRedis(tb testing.TB, s *stack.Stack) *goredis.Client {
	tb.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: s.Redis.Addr()})
	tb.Cleanup(func() { c.Close() })
	return c
}

// backendRedirects sums kurz_http_requests_total{route="redirect"} over the running replicas.
func backendRedirects(tb testing.TB, s *stack.Stack) int {
	tb.Helper()
	total := 0
	for _, b := range s.Backends {
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", b.MetricsPort))
		if err != nil {
			continue // a stopped replica
		}
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, `kurz_http_requests_total{route="redirect"`) {
				f := strings.Fields(line)
				n, _ := strconv.ParseFloat(f[len(f)-1], 64)
				total += int(n)
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

func eventually(tb testing.TB, timeout time.Duration, check func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var bg = context.Background()
