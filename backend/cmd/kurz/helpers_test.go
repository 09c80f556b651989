package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/backend/postgres"
	"github.com/kurzlink/kurz/internal/testenv"
)

// kurzBackend is one backend started through run, as main starts it.
type kurzBackend struct {
	URL    string
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
	stop   sync.Once
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// testCodeSecret is 32 random bytes in hex, as KURZ_CODE_SECRET must be.
const testCodeSecret = "9f2c4e1b7a3d5f6081c2e4a6b8d0f1e3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5"

// MustStartBackend runs the backend against databaseURL and redisURL with extra env.
func MustStartBackend(tb testing.TB, databaseURL, redisURL string, env map[string]string) *kurzBackend {
	tb.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(tb))
	vars := map[string]string{
		"KURZ_LISTEN_ADDR":        addr,
		"KURZ_METRICS_ADDR":       fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(tb)),
		"DATABASE_URL":            databaseURL,
		"REDIS_URL":               redisURL,
		"KURZ_PUBLIC_URL":         "http://kurz.test",
		"KURZ_CODE_SECRET":        testCodeSecret,
		"KURZ_HIT_FLUSH_INTERVAL": "100ms",
		"KURZ_POSTGRES_TIMEOUT":   "1s",
		"KURZ_LOG_LEVEL":          "debug",
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &kurzBackend{URL: "http://" + addr, cancel: cancel, done: make(chan error, 1), logs: &syncBuffer{}}
	go func() { b.done <- run(ctx, nil, func(k string) string { return vars[k] }, b.logs) }()
	if err := testenv.WaitTCP(addr, 20*time.Second); err != nil {
		cancel()
		select {
		case runErr := <-b.done: // it refused to start: say why
			tb.Fatalf("backend did not start: %v\n%s", runErr, b.logs)
		default:
		}
		tb.Fatalf("backend did not start: %v\n%s", err, b.logs)
	}
	tb.Cleanup(func() { b.Stop(tb) })
	return b
}

// runRefused runs the backend with extra settings, expecting it to refuse to
// start, and returns its error.
func runRefused(tb testing.TB, databaseURL, redisURL string, extra map[string]string) error {
	tb.Helper()
	env := map[string]string{"DATABASE_URL": databaseURL, "REDIS_URL": redisURL, "KURZ_CODE_SECRET": testCodeSecret,
		"KURZ_LISTEN_ADDR": "127.0.0.1:0", "KURZ_METRICS_ADDR": "off"}
	for k, v := range extra {
		env[k] = v
	}
	return run(context.Background(), nil, func(k string) string { return env[k] }, &syncBuffer{})
}

// Stop shuts the backend down as SIGTERM would and waits for it.
func (b *kurzBackend) Stop(tb testing.TB) {
	tb.Helper()
	b.stop.Do(func() {
		b.cancel()
		select {
		case err := <-b.done:
			if err != nil {
				tb.Errorf("run: %v", err)
			}
		case <-time.After(20 * time.Second):
			tb.Errorf("backend did not stop\n%s", b.logs)
		}
	})
}

var noRedirect = testenv.Client

type response = testenv.Response

func do(tb testing.TB, method, url, contentType, body string) response {
	tb.Helper()
	return testenv.Do(tb, method, url, body, "Content-Type", contentType)
}

func shorten(tb testing.TB, base, url string) response {
	tb.Helper()
	b, _ := json.Marshal(map[string]string{"url": url})
	return do(tb, http.MethodPost, base+"/api/shorten", "application/json", string(b))
}

// MustShorten creates a link and returns its code.
func MustShorten(tb testing.TB, base, url string) string {
	tb.Helper()
	res := shorten(tb, base, url)
	if res.Status != http.StatusCreated && res.Status != http.StatusOK {
		tb.Fatalf("shorten %s: %d %s", url, res.Status, res.Raw)
	}
	return res.Body["short_code"].(string)
}

func errorCode(r response) string { return r.ErrorCode() }

func MustQueryInt(tb testing.TB, databaseURL, sql string, args ...any) int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}

func MustRedisClient(tb testing.TB, r *testenv.Redis) *goredis.Client {
	tb.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	tb.Cleanup(func() { c.Close() })
	return c
}

var eventually = testenv.Eventually

// onReplicas runs n requests at once, alternating between two replicas, and returns their statuses.
func onReplicas(n int, a, b *kurzBackend, request func(i int, base string) int) []int {
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			base := a.URL
			if i%2 == 1 {
				base = b.URL
			}
			statuses[i] = request(i, base)
		}(i)
	}
	wg.Wait()
	return statuses
}

// count is how many of statuses are status.
func count(statuses []int, status int) int {
	n := 0
	for _, s := range statuses {
		if s == status {
			n++
		}
	}
	return n
}

// MustDatabaseAt is a new database at schema version (-1: the latest), and
// upgrade, which migrates it the rest of the way; the connection is closed by
// then, so a backend may start on it.
func MustDatabaseAt(tb testing.TB, version int) (url string, upgrade func()) {
	tb.Helper()
	url = testenv.SharedPostgres(tb).NewDatabase(tb)
	ctx := context.Background()
	db, err := postgres.Open(ctx, url, "", 5*time.Second, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if version < 0 {
		err = db.Migrate(ctx)
	} else {
		err = db.MigrateTo(ctx, int32(version))
	}
	if err != nil {
		db.Close()
		tb.Fatal(err)
	}
	return url, func() {
		tb.Helper()
		defer db.Close()
		if err := db.Migrate(ctx); err != nil {
			tb.Fatal(err)
		}
	}
}
