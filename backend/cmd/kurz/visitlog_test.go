package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
)

const iPhoneAgent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"

// MustVisit redirects code once as a browser coming from referrer would.
func MustVisit(tb testing.TB, base, code, referrer string) {
	tb.Helper()
	res := testenv.Do(tb, "GET", base+"/"+code, "", "User-Agent", iPhoneAgent, "Referer", referrer)
	if res.Status != http.StatusMovedPermanently {
		tb.Fatalf("visit %s = %d %s", code, res.Status, res.Raw)
	}
}

// visitsOf are the visits of a visit-log page, and its next cursor.
func visitsOf(tb testing.TB, res response) ([]map[string]any, string) {
	tb.Helper()
	if res.Status != http.StatusOK {
		tb.Fatalf("visit log = %d %s", res.Status, res.Raw)
	}
	var visits []map[string]any
	for _, v := range res.Body["visits"].([]any) {
		visits = append(visits, v.(map[string]any))
	}
	next, _ := res.Body["next_cursor"].(string)
	return visits, next
}

// waitLogged waits until the visit log at path holds want visits for key.
func waitLogged(tb testing.TB, path, key string, want int) []map[string]any {
	tb.Helper()
	var visits []map[string]any
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	testenv.Eventually(tb, 10*time.Second, func() error {
		visits, _ = visitsOf(tb, doKey(tb, "GET", path+sep+"limit=500", key, ""))
		if len(visits) != want {
			return fmt.Errorf("%s: %d visits logged, want %d", path, len(visits), want)
		}
		return nil
	})
	return visits
}

func TestVisitLog(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t) // a visits stream of its own
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	admin, author := MustCreateKey(t, db, "admin"), MustCreateRoleKey(t, db, "author", "author")
	promo := MustCreate(t, b.URL, admin, `{"url":"https://example.com/promo","tags":["promo"]}`)["short_code"].(string)
	own := MustCreate(t, b.URL, author, `{"url":"https://example.com/own"}`)["short_code"].(string)
	for i := 0; i < 3; i++ {
		MustVisit(t, b.URL, promo, "https://news.example.org/story?id=1")
	}
	for i := 0; i < 2; i++ {
		MustVisit(t, b.URL, own, "")
	}

	t.Run("OKEachVisitOnce", func(t *testing.T) {
		visits := waitLogged(t, b.URL+"/api/links/"+promo+"/visits", admin, 3)
		got, want := visits[0], map[string]any{"code": promo, "referrer": "news.example.org", "browser": "Safari",
			"os": "iOS", "device": "mobile", "country": "unknown", "bot": false}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("visit %s = %v, want %v (%v)", k, got[k], v, got)
			}
		}
		if _, ok := got["user_agent"]; ok {
			t.Errorf("the user agent is kept without KURZ_VISIT_LOG_FULL_UA: %v", got)
		}
		if at, err := time.Parse(time.RFC3339, got["at"].(string)); err != nil || time.Since(at) > time.Minute {
			t.Errorf("at = %v (%v), want a moment ago", got["at"], err)
		}
		waitLogged(t, b.URL+"/api/visits", admin, 5)
		time.Sleep(500 * time.Millisecond) // more folds: still once each
		if n := MustQueryInt(t, db, `SELECT count(*) FROM visit_log`); n != 5 {
			t.Errorf("visit_log holds %d rows, want 5", n)
		}
	})
	t.Run("OKPages", func(t *testing.T) {
		var seen []string
		cursor := ""
		for page := 0; page < 5; page++ {
			visits, next := visitsOf(t, doKey(t, "GET", b.URL+"/api/visits?limit=2&cursor="+cursor, admin, ""))
			for _, v := range visits {
				seen = append(seen, v["at"].(string))
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != 5 {
			t.Fatalf("paging by 2 read %d visits, want 5: %v", len(seen), seen)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] > seen[i-1] {
				t.Errorf("not newest first: %v", seen)
			}
		}
	})
	t.Run("OKByTag", func(t *testing.T) {
		waitLogged(t, b.URL+"/api/visits?tag=Promo", admin, 3)
	})
	t.Run("OKAuthorSeesOwnLinksOnly", func(t *testing.T) {
		for _, v := range waitLogged(t, b.URL+"/api/visits", author, 2) {
			if v["code"] != own {
				t.Errorf("the author reads a visit of %v", v["code"])
			}
		}
		if res := doKey(t, "GET", b.URL+"/api/links/"+promo+"/visits", author, ""); res.Status != http.StatusNotFound {
			t.Errorf("an author reading another's link visits = %d, want 404", res.Status)
		}
	})
	t.Run("ErrBadQuery", func(t *testing.T) {
		for _, tc := range []struct{ path, want string }{
			{"/api/visits?limit=0", "limit must be a number from 1 to 500"},
			{"/api/visits?limit=501", "limit must be a number from 1 to 500"},
			{"/api/visits?cursor=nope", "cursor is not one this server gave"},
			{"/api/visits?tag=" + strings.Repeat("t", 65), "at most 64 characters"},
			{"/api/links/zzzzzzz/visits", "no link has this code"},
		} {
			res := doKey(t, "GET", b.URL+tc.path, admin, "")
			if res.Status/100 != 4 || !strings.Contains(strings.ToLower(res.Raw), strings.ToLower(tc.want)) {
				t.Errorf("%s = %d %s, want a 4xx saying %q", tc.path, res.Status, res.Raw, tc.want)
			}
		}
		if res := do(t, "GET", b.URL+"/api/visits", "", ""); res.Status != http.StatusUnauthorized {
			t.Errorf("without a key = %d, want 401", res.Status)
		}
	})
}

func TestVisitLogSettings(t *testing.T) {
	pg := testenv.SharedPostgres(t)
	t.Run("OKFullUserAgent", func(t *testing.T) {
		db := pg.NewDatabase(t)
		b := MustStartBackend(t, db, testenv.NewRedis(t).URL(), map[string]string{"KURZ_VISIT_LOG_FULL_UA": "true"})
		key := MustCreateKey(t, db, "ua")
		code := MustShorten(t, b.URL, "https://example.com/ua")
		MustVisit(t, b.URL, code, "")
		if got := waitLogged(t, b.URL+"/api/links/"+code+"/visits", key, 1)[0]["user_agent"]; got != iPhoneAgent {
			t.Errorf("user_agent = %v, want the visitor's", got)
		}
	})
	t.Run("OKOff", func(t *testing.T) {
		db := pg.NewDatabase(t)
		b := MustStartBackend(t, db, testenv.NewRedis(t).URL(), map[string]string{"KURZ_VISIT_LOG_RETENTION": "0s"})
		key := MustCreateKey(t, db, "off")
		code := MustShorten(t, b.URL, "https://example.com/off")
		MustVisit(t, b.URL, code, "")
		waitStatsTotal(t, b.URL, key, code, 1) // folded into the roll-ups, not logged
		if visits, _ := visitsOf(t, doKey(t, "GET", b.URL+"/api/links/"+code+"/visits", key, "")); len(visits) != 0 {
			t.Errorf("visit log with retention 0 = %v, want none", visits)
		}
	})
	t.Run("OKOldDaysDropped", func(t *testing.T) {
		url, done := MustDatabaseAt(t, -1)
		done()
		old, recent := time.Now().UTC().AddDate(0, 0, -40), time.Now().UTC().AddDate(0, 0, -2)
		for _, day := range []time.Time{old, recent} {
			start := day.Truncate(24 * time.Hour)
			mustExec(t, url, fmt.Sprintf(`CREATE TABLE visit_log_%s PARTITION OF visit_log FOR VALUES FROM ('%s') TO ('%s')`,
				start.Format("20060102"), start.Format(time.RFC3339), start.Add(24*time.Hour).Format(time.RFC3339)))
			mustExec(t, url, `INSERT INTO visit_log (code, at, referrer, browser, os, device, country, bot)
				VALUES ('gone', $1, 'direct', 'Safari', 'iOS', 'mobile', 'unknown', false)`, day)
		}
		MustStartBackend(t, url, testenv.NewRedis(t).URL(), nil) // 30 days by default; prunes at start
		testenv.Eventually(t, 10*time.Second, func() error {
			if n := MustQueryInt(t, url, `SELECT count(*) FROM visit_log WHERE at < now() - interval '30 days'`); n != 0 {
				return fmt.Errorf("%d visits older than the retention", n)
			}
			return nil
		})
		if n := MustQueryInt(t, url, `SELECT count(*) FROM visit_log`); n != 1 {
			t.Errorf("%d visits left, want the recent one", n)
		}
	})
	t.Run("ErrRetentionShort", func(t *testing.T) {
		err := runRefused(t, pg.NewDatabase(t), testenv.NewRedis(t).URL(), map[string]string{"KURZ_VISIT_LOG_RETENTION": "2h"})
		if err == nil || !strings.Contains(err.Error(), "KURZ_VISIT_LOG_RETENTION must be at least 24h") {
			t.Errorf("run with KURZ_VISIT_LOG_RETENTION=2h = %v, want a refusal naming the setting", err)
		}
	})
}
