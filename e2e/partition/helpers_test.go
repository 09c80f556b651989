package partition_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/internal/netsplit"
	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env keeps the tests short: fast health checks and flushes.
var env = map[string]string{
	"KURZ_HEALTHCHECK_INTERVAL": "1s",
	"KURZ_HIT_FLUSH_INTERVAL":   "200ms",
}

// client sends requests from the network's probe host, as a visitor would.
type client struct {
	http *http.Client
}

func newClient(n *netsplit.Network, timeout time.Duration) client {
	return client{http: &http.Client{
		Timeout:       timeout,
		Transport:     &http.Transport{DialContext: n.DialContext, MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c client) send(method, url, body string) (testenv.Response, error) {
	return c.sendKey(method, url, "", body)
}

// sendKey is send with an API key ("" for none).
func (c client) sendKey(method, url, key, body string) (testenv.Response, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return testenv.Response{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return testenv.Response{}, err
	}
	return testenv.ReadResponse(res), nil
}

// MustShorten creates a link through base and returns its code.
func (c client) MustShorten(tb testing.TB, base, url string) string {
	tb.Helper()
	b, _ := json.Marshal(map[string]string{"url": url})
	res, err := c.send("POST", base+"/api/shorten", string(b))
	if err != nil {
		tb.Fatal(err)
	}
	if res.Status != http.StatusCreated && res.Status != http.StatusOK {
		tb.Fatalf("shorten %s: %d %s", url, res.Status, res.Raw)
	}
	return res.Body["short_code"].(string)
}

// MustPostgres is a connection to the stack's primary from the probe host.
func MustPostgres(tb testing.TB, n *netsplit.Network, s *stack.Stack) *pgx.Conn {
	tb.Helper()
	cfg, err := pgx.ParseConfig(s.Postgres.URL("kurz"))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DialFunc = pgconn.DialFunc(n.DialContext)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// MustRedis is a client of addr from the probe host.
func MustRedis(tb testing.TB, n *netsplit.Network, addr string) *goredis.Client {
	tb.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, Dialer: n.DialContext})
	tb.Cleanup(func() { c.Close() })
	return c
}

// MustHost is the network host a part of the stack runs on.
func MustHost(tb testing.TB, n *netsplit.Network, part string) *netsplit.Host {
	tb.Helper()
	h, err := n.Host(part)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// counts reads the access counts of codes from Postgres.
func counts(tb testing.TB, db *pgx.Conn, codes []string) map[string]int64 {
	tb.Helper()
	rows, err := db.Query(context.Background(), `SELECT short_code, access_count FROM url_mappings WHERE short_code = ANY($1)`, codes)
	if err != nil {
		tb.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kv [2]any, err error) {
		var code string
		var n int64
		err = r.Scan(&code, &n)
		return [2]any{code, n}, err
	})
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]int64{}
	for _, kv := range got {
		out[kv[0].(string)] = kv[1].(int64)
	}
	return out
}

// mustCounts waits until every code's count equals the ledger, and checks
// it still does a moment later (nothing counted twice late).
func mustCounts(tb testing.TB, db *pgx.Conn, ledger map[string]int64, within time.Duration) {
	tb.Helper()
	var codes []string
	for c := range ledger {
		codes = append(codes, c)
	}
	diff := func() error {
		got := counts(tb, db, codes)
		var first string
		var off, served, counted int64
		for _, c := range codes {
			served += ledger[c]
			counted += got[c]
			if got[c] != ledger[c] {
				off++
				if first == "" {
					first = fmt.Sprintf("access_count of %s = %d, want %d (301s served)", c, got[c], ledger[c])
				}
			}
		}
		if off > 0 { // a lost push shows on many links, a per-link race on one
			return fmt.Errorf("%s; %d of %d links off, %d counted of %d served", first, off, len(codes), counted, served)
		}
		return nil
	}
	testenv.Eventually(tb, within, diff)
	time.Sleep(time.Second)
	if err := diff(); err != nil {
		tb.Fatalf("later: %v: counted twice", err)
	}
}

// ledger counts the 301s served per code, and everything else.
type ledger struct {
	mu       sync.Mutex
	served   map[string]int64
	failures int
	first    string // the first failure
	slowest  time.Duration
}

func newLedger() *ledger { return &ledger{served: map[string]int64{}} }

// visit asks for code through base and books the answer.
func (l *ledger) visit(c client, base, code string) {
	start := time.Now()
	res, err := c.send("GET", base+"/"+code, "")
	took := time.Since(start)
	l.mu.Lock()
	defer l.mu.Unlock()
	if took > l.slowest {
		l.slowest = took
	}
	if err == nil && res.Status == http.StatusMovedPermanently {
		l.served[code]++
		return
	}
	l.failures++
	if l.first == "" {
		if err != nil {
			l.first = err.Error()
		} else {
			l.first = fmt.Sprintf("GET /%s = %d %s", code, res.Status, res.Raw)
		}
	}
}

// snapshot returns the served counts and the failures so far.
func (l *ledger) snapshot() (map[string]int64, int, string, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int64{}
	for k, v := range l.served {
		out[k] = v
	}
	return out, l.failures, l.first, l.slowest
}

var startLoad = testenv.StartLoad

// backendRedirects sums the redirects the backends answered.
func backendRedirects(tb testing.TB, c client, s *stack.Stack) int {
	tb.Helper()
	total := 0
	for _, b := range s.Backends {
		res, err := c.send("GET", "http://"+b.Host+":"+strconv.Itoa(b.MetricsPort)+"/metrics", "")
		if err != nil {
			continue // a stopped or cut replica
		}
		for _, line := range strings.Split(res.Raw, "\n") {
			if strings.HasPrefix(line, `kurz_http_requests_total{route="redirect"`) {
				f := strings.Fields(line)
				n, _ := strconv.ParseFloat(f[len(f)-1], 64)
				total += int(n)
			}
		}
	}
	return total
}

// MustKey creates an admin API key, on the first backend's host.
func MustKey(tb testing.TB, s *stack.Stack) string {
	tb.Helper()
	return testenv.MustRoleKey(tb, s, "admin")
}

// location asks for code through base and returns the redirect's target ("" if none).
func (c client) location(tb testing.TB, base, code string) string {
	tb.Helper()
	res, err := c.send("GET", base+"/"+code, "")
	if err != nil {
		tb.Fatal(err)
	}
	if res.Status != http.StatusMovedPermanently {
		return fmt.Sprintf("(%d)", res.Status)
	}
	return res.Header.Get("Location")
}

// MustFailoverRedisOf is a client of whichever Redis the Sentinels name master, from the probe host.
func MustFailoverRedisOf(tb testing.TB, n *netsplit.Network, s *stack.Stack) *goredis.Client {
	tb.Helper()
	var addrs []string
	for _, sn := range s.Sentinels {
		addrs = append(addrs, sn.Addr())
	}
	c := goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: s.HA.MasterName, SentinelAddrs: addrs, Dialer: n.DialContext})
	tb.Cleanup(func() { c.Close() })
	return c
}

// logCountState logs, when the test failed, where counts may be waiting:
// the pending hash, the batches being folded, the edges' statistics.
func logCountState(t *testing.T, n *netsplit.Network, s *stack.Stack, db *pgx.Conn, served map[string]int64) {
	if !t.Failed() {
		return
	}
	rdb := MustFailoverRedisOf(t, n, s)
	ctx := context.Background()
	hits, _ := rdb.HGetAll(ctx, link.HitsKey).Result()
	batches, _ := rdb.Keys(ctx, link.HitsBatchKeyPrefix+"*").Result()
	stats, _ := rdb.Keys(ctx, "edge:stats:*").Result()
	for _, k := range stats {
		v, _ := rdb.Get(ctx, k).Result()
		t.Logf("%s = %s", k, v)
	}
	var codes []string
	var want, got int64
	for c := range served {
		codes = append(codes, c)
	}
	now := counts(t, db, codes)
	for _, c := range codes {
		want += served[c]
		got += now[c]
	}
	t.Logf("pending hits %d fields, batches %v; counted %d of %d", len(hits), batches, got, want)
}
