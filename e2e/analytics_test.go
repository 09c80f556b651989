package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/kurzlink/kurz/backend/geoip"
	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

// visitor is one kind of visit of the mix below.
type visitor struct {
	times     int
	addr      string // sent as X-Forwarded-For by a trusted proxy (KURZ_TRUSTED_PROXIES)
	userAgent string
	referrer  string
}

var visitMix = []visitor{
	{3, "8.8.8.8", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "https://news.ycombinator.com/item?id=1"},
	{2, "193.0.6.139", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "https://t.co/abc"},
	{2, "fd00::7", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", ""},
}

// visit sends the mix to code through Traefik, and two HEADs, which are not visits.
func visit(tb testing.TB, s *stack.Stack, code string) {
	tb.Helper()
	for _, v := range visitMix {
		for i := 0; i < v.times; i++ {
			res := testenv.Do(tb, "GET", s.Traefik.URL()+"/"+code, "", "X-Forwarded-For", v.addr, "User-Agent", v.userAgent, "Referer", v.referrer)
			if res.Status != http.StatusMovedPermanently && res.Status != http.StatusFound {
				tb.Fatalf("visit /%s = %d %s", code, res.Status, res.Raw)
			}
		}
	}
	for i := 0; i < 2; i++ {
		testenv.Do(tb, "HEAD", s.Traefik.URL()+"/"+code, "", "User-Agent", "UptimeRobot/2.0")
	}
}

// statsOf reads the stats API through Traefik.
func statsOf(tb testing.TB, s *stack.Stack, key, path string) (map[string]any, error) {
	res, err := testenv.Send("GET", s.Traefik.URL()+path, "", "Authorization", "Bearer "+key)
	if err != nil {
		return nil, err
	}
	if res.Status != http.StatusOK {
		return nil, fmt.Errorf("%s = %d %s", path, res.Status, res.Raw)
	}
	return res.Body, nil
}

// top flattens a top list to value → visits.
func top(st map[string]any, dim string) map[string]int {
	out := map[string]int{}
	t, _ := st["top"].(map[string]any)
	list, _ := t[dim].([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		v, _ := m["value"].(string)
		n, _ := m["visits"].(float64)
		out[v] = int(n)
	}
	return out
}

func mustCountry(tb testing.TB, db *geoip.DB, addr string) string {
	tb.Helper()
	cc := db.Country(netip.MustParseAddr(addr))
	if cc == "" {
		tb.Fatalf("the test database has no country for %s", addr)
	}
	return cc
}

func TestVisitAnalyticsThroughTraefik(t *testing.T) {
	geoPath := testenv.GeoIPDB(t)
	s := testenv.NewStack(t, map[string]string{
		"KURZ_HEALTHCHECK_INTERVAL": "1s",
		"KURZ_HIT_FLUSH_INTERVAL":   "200ms",
		"KURZ_GEOIP_DB":             geoPath,
		"KURZ_TRUSTED_PROXIES":      "127.0.0.1",
	})
	geo, err := geoip.Open(geoPath)
	if err != nil {
		t.Fatal(err)
	}
	defer geo.Close()
	us, nl := mustCountry(t, geo, "8.8.8.8"), mustCountry(t, geo, "193.0.6.139")
	key := MustKey(t, s)

	edgeCode := MustShorten(t, s, "https://example.com/analytics/edge")
	// A visit limit keeps a link at the backends: each visit is counted in Postgres first.
	res := do(t, "POST", s.Traefik.URL()+"/api/shorten", "application/json", `{"url":"https://example.com/analytics/backend","max_visits":1000}`)
	backendCode, _ := res.Body["short_code"].(string)
	if backendCode == "" {
		t.Fatalf("create with a visit limit: %d %s", res.Status, res.Raw)
	}
	visit(t, s, edgeCode)
	visit(t, s, backendCode)

	wantFor := func(total int) func(st map[string]any) error {
		return func(st map[string]any) error {
			extra := total - 7 // visits of the first kind added by the subtest below
			checks := []struct {
				dim  string
				want map[string]int
			}{
				{"referrers", map[string]int{"news.ycombinator.com": 3 + extra, "t.co": 2, "direct": 2}},
				{"browsers", map[string]int{"Chrome": 3 + extra, "Safari": 2, "Slackbot-LinkExpanding": 2}},
				{"os", map[string]int{"Windows": 3 + extra, "iOS": 2, "unknown": 2}},
				{"devices", map[string]int{"desktop": 3 + extra, "mobile": 2, "bot": 2}},
				{"countries", map[string]int{us: 3 + extra, nl: 2, "unknown": 2}},
			}
			if st["total"] != float64(total) || st["humans"] != float64(total-2) || st["bots"] != float64(2) {
				return fmt.Errorf("total %v humans %v bots %v, want %d %d 2", st["total"], st["humans"], st["bots"], total, total-2)
			}
			for _, c := range checks {
				if got := top(st, c.dim); fmt.Sprint(got) != fmt.Sprint(c.want) {
					return fmt.Errorf("%s = %v, want %v", c.dim, got, c.want)
				}
			}
			return nil
		}
	}
	t.Run("EdgeAndBackendServedAlike", func(t *testing.T) {
		for _, code := range []string{edgeCode, backendCode} {
			testenv.Eventually(t, 10*time.Second, func() error {
				st, err := statsOf(t, s, key, "/api/links/"+code+"/stats?interval=hour")
				if err != nil {
					return err
				}
				return wantFor(7)(st)
			})
		}
	})
	t.Run("AllLinks", func(t *testing.T) {
		st, err := statsOf(t, s, key, "/api/stats?interval=day")
		if err != nil {
			t.Fatal(err)
		}
		series, _ := st["series"].([]any)
		var humans, bots float64
		for _, b := range series {
			m := b.(map[string]any)
			humans += m["humans"].(float64)
			bots += m["bots"].(float64)
		}
		if st["total"] != float64(14) || humans != 10 || bots != 4 || len(series) != 8 {
			t.Errorf("all links: total %v, series of %d days with %v humans and %v bots; want 14 over 8 days, 10 and 4", st["total"], len(series), humans, bots)
		}
	})
	t.Run("BackendKilledWhileFolding", func(t *testing.T) {
		// Hold the cursor: every backend's next fold waits on it, mid-transaction.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.Postgres.URL("kurz"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM visit_cursor WHERE id = 1 FOR UPDATE`); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 4; i++ {
			v := visitMix[0]
			testenv.Do(t, "GET", s.Traefik.URL()+"/"+edgeCode, "", "X-Forwarded-For", v.addr, "User-Agent", v.userAgent, "Referer", v.referrer)
		}
		rc := MustRedis(t, s)
		testenv.Eventually(t, 5*time.Second, func() error {
			if n, _ := rc.XLen(ctx, link.VisitsKey).Result(); n == 0 {
				return fmt.Errorf("the visits are not in the stream yet")
			}
			return nil
		})
		testenv.Eventually(t, 5*time.Second, func() error { // a fold of each replica waits on the cursor
			if n := queryInt(t, s, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%visit_cursor%'`); n == 0 {
				return fmt.Errorf("no fold waits on the cursor")
			}
			return nil
		})
		s.Backends[0].Kill()
		time.Sleep(300 * time.Millisecond)
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 10*time.Second, func() error {
			st, err := statsOf(t, s, key, "/api/links/"+edgeCode+"/stats")
			if err != nil {
				return err
			}
			return wantFor(11)(st)
		})
		if err := s.Backends[0].Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // its first folds: nothing is folded twice
		st, err := statsOf(t, s, key, "/api/links/"+edgeCode+"/stats")
		if err == nil {
			err = wantFor(11)(st)
		}
		if err != nil {
			t.Error(err)
		}
	})
	t.Run("ErrAuthorSeesOnlyOwnLinks", func(t *testing.T) {
		author := MustRoleKey(t, s, "author")
		res := testenv.Do(t, "GET", s.Traefik.URL()+"/api/links/"+edgeCode+"/stats", "", "Authorization", "Bearer "+author)
		if res.Status != http.StatusNotFound {
			t.Errorf("another's link's stats = %d %s, want 404", res.Status, res.Raw)
		}
		res = testenv.Do(t, "GET", s.Traefik.URL()+"/api/stats", "", "Authorization", "Bearer "+author)
		if res.Status != http.StatusForbidden {
			t.Errorf("all links' stats for an author = %d %s, want 403", res.Status, res.Raw)
		}
		res = testenv.Do(t, "GET", s.Traefik.URL()+"/api/stats?interval=minute", "", "Authorization", "Bearer "+key)
		if res.Status != http.StatusBadRequest {
			t.Errorf("interval=minute = %d %s, want 400", res.Status, res.Raw)
		}
	})
	t.Run("StatsPageInBrowser", func(t *testing.T) {
		ctx := MustBrowser(t)
		waitText := func(sel, want string) { t.Helper(); mustShowText(t, ctx, sel, want) }
		row := `#links tr[data-code="` + edgeCode + `"]`
		if err := chromedp.Do(ctx,
			watchCSP,
			chromedp.Navigate(s.Traefik.URL()+"/manage"),
			chromedp.WaitVisible(chromedp.ID("key")),
			chromedp.SetValue(chromedp.ID("key"), key),
			chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(row)),
			chromedp.Click(chromedp.CSS(row+` a[aria-label^="Visits"]`)),
			chromedp.WaitVisible(chromedp.ID("stats")),
		); err != nil {
			t.Fatal(err)
		}
		waitText("#total", "11")
		waitText("#humans", "9")
		waitText("#referrers", "news.ycombinator.com")
		waitText("#devices", "mobile")
		waitText("#countries", nl)
		if bars := mustRun(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#series rect').length`)); bars != 2*8 {
			t.Errorf("the series draws %d bars, want 16 (people and bots for 8 days)", bars)
		}
		mustFitAPhone(t, ctx, "stats")
	})
	t.Run("NothingIdentifyingStored", func(t *testing.T) {
		n := queryInt(t, s, `SELECT count(*) FROM visit_stats WHERE value LIKE '%8.8.8.8%' OR value LIKE '%Mozilla%' OR value LIKE '%item?id%'`)
		if n != 0 {
			t.Errorf("%d roll-ups hold an address, a user agent or a full referrer", n)
		}
	})
}
