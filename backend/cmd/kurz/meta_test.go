package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

// codesOf are the short codes of a list answer, in its order.
func codesOf(tb testing.TB, res response) []string {
	tb.Helper()
	if res.Status != http.StatusOK {
		tb.Fatalf("list = %d %s", res.Status, res.Raw)
	}
	var codes []string
	for _, l := range res.Body["links"].([]any) {
		codes = append(codes, l.(map[string]any)["short_code"].(string))
	}
	return codes
}

// MustCreate posts body to /api/shorten with key and returns the link.
func MustCreate(tb testing.TB, base, key, body string) map[string]any {
	tb.Helper()
	res := doKey(tb, "POST", base+"/api/shorten", key, body)
	if res.Status != http.StatusCreated {
		tb.Fatalf("create %s = %d %s", body, res.Status, res.Raw)
	}
	return res.Body
}

func TestLinkMeta(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	key := MustCreateKey(t, db, "meta")
	api := b.URL + "/api/links"

	sale := MustCreate(t, b.URL, key, `{"url":"https://example.com/sale","alias":"summer-sale","tags":["Summer Sale","promo","promo"],"title":"  Summer sale 2026 ","crawlable":true}`)
	blog := MustCreate(t, b.URL, key, `{"url":"https://example.com/blog","tags":["blog","promo"],"title":"Our blog"}`)
	plain := MustShorten(t, b.URL, "https://example.com/plain")
	again := shorten(t, b.URL, "https://example.com/blog").Body // plain: a link of its own

	t.Run("OKCreateNormalizes", func(t *testing.T) {
		if got, want := fmt.Sprint(sale["tags"]), "[summer-sale promo]"; got != want {
			t.Errorf("tags = %s, want %s", got, want)
		}
		if got, want := sale["title"], "Summer sale 2026"; got != want {
			t.Errorf("title = %q, want %q", got, want)
		}
		if got := sale["crawlable"]; got != true {
			t.Errorf("crawlable = %v, want true", got)
		}
		if again["short_code"] == blog["short_code"] {
			t.Error("a plain create of a tagged link's URL got the tagged link: tags make a link of its own")
		}
	})
	t.Run("OKListByTag", func(t *testing.T) {
		for _, tc := range []struct{ query, want string }{
			{"?tag=promo", fmt.Sprint([]any{blog["short_code"], sale["short_code"]})},
			{"?tags=blog,summer-sale", fmt.Sprint([]any{blog["short_code"], sale["short_code"]})},
			{"?tags=blog,promo&tags_mode=all", fmt.Sprint([]any{blog["short_code"]})},
			{"?tag=Summer%20Sale", fmt.Sprint([]any{sale["short_code"]})},
			{"?q=our%20blog", fmt.Sprint([]any{blog["short_code"]})},
			{"?q=summer-", fmt.Sprint([]any{sale["short_code"]})},
			{"?q=" + plain, fmt.Sprint([]string{plain})},
			{"?q=example.com/blog", fmt.Sprint([]any{again["short_code"], blog["short_code"]})},
			{"?tag=none", "[]"},
		} {
			if got := fmt.Sprint(codesOf(t, doKey(t, "GET", api+tc.query, key, ""))); got != tc.want {
				t.Errorf("%s = %s, want %s", tc.query, got, tc.want)
			}
		}
	})
	t.Run("OKListByDateAndVisits", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			do(t, "GET", b.URL+"/"+blog["short_code"].(string), "", "")
		}
		do(t, "GET", b.URL+"/"+plain, "", "")
		mustAccessCount(t, db, blog["short_code"].(string), 3)
		mustAccessCount(t, db, plain, 1)
		var pages []string
		cursor := ""
		for page := 0; page < 4; page++ {
			res := doKey(t, "GET", api+"?order=visits&limit=1&cursor="+cursor, key, "")
			pages = append(pages, codesOf(t, res)...)
			if cursor, _ = res.Body["next_cursor"].(string); cursor == "" {
				break
			}
		}
		if got, want := fmt.Sprint(pages), fmt.Sprint([]any{blog["short_code"], plain, again["short_code"], sale["short_code"]}); got != want {
			t.Errorf("most visited first = %s, want %s", got, want)
		}
		tomorrow := time.Now().UTC().Add(24 * time.Hour).Format(time.DateOnly)
		if got := codesOf(t, doKey(t, "GET", api+"?created_after="+tomorrow, key, "")); len(got) != 0 {
			t.Errorf("created after tomorrow = %v, want none", got)
		}
		if got := codesOf(t, doKey(t, "GET", api+"?created_before="+tomorrow, key, "")); len(got) != 4 {
			t.Errorf("created before tomorrow = %v, want all 4", got)
		}
	})
	t.Run("OKPatch", func(t *testing.T) {
		res := doKey(t, "PATCH", api+"/"+plain, key, `{"tags":["Later"],"title":"Plain no more","crawlable":true}`)
		if res.Status != http.StatusOK || fmt.Sprint(res.Body["tags"]) != "[later]" || res.Body["title"] != "Plain no more" {
			t.Fatalf("patch = %d %s", res.Status, res.Raw)
		}
		res = doKey(t, "PATCH", api+"/"+plain, key, `{"tags":null,"title":"","crawlable":false}`)
		if res.Status != http.StatusOK || res.Body["tags"] != nil || res.Body["title"] != nil || res.Body["crawlable"] != nil {
			t.Errorf("clearing = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("OKRobots", func(t *testing.T) {
		res := do(t, "GET", b.URL+"/robots.txt", "", "")
		want := "User-agent: *\nAllow: /summer-sale\nDisallow: /\n"
		if res.Status != http.StatusOK || !strings.HasSuffix(res.Raw, want) {
			t.Errorf("robots.txt = %d %q, want it to end with %q", res.Status, res.Raw, want)
		}
	})
	t.Run("OKValidSince", func(t *testing.T) {
		since := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
		l := MustCreate(t, b.URL, key, `{"url":"https://example.com/soon","valid_since":"`+since+`"}`)
		code := l["short_code"].(string)
		if res := do(t, "GET", b.URL+"/"+code, "", ""); res.Status != http.StatusNotFound {
			t.Errorf("before valid_since = %d, want 404", res.Status)
		}
		testenv.Eventually(t, 5*time.Second, func() error {
			if res := do(t, "GET", b.URL+"/"+code, "", ""); res.Status != http.StatusMovedPermanently {
				return fmt.Errorf("after valid_since = %d, want 301", res.Status)
			}
			return nil
		})
	})
	t.Run("OKForwardQuery", func(t *testing.T) {
		cached := MustCreate(t, b.URL, key, `{"url":"https://example.com/fwd?id=1#top","forward_query":true}`)
		counted := MustCreate(t, b.URL, key, `{"url":"https://example.com/fwd","forward_query":true,"max_visits":10}`)
		if cached["forward_query"] != true {
			t.Errorf("create answered %v, want forward_query true", cached)
		}
		for _, tc := range []struct{ name, code, query, want string }{
			{"FromPostgres", cached["short_code"].(string), "?utm_source=x", "https://example.com/fwd?id=1&utm_source=x#top"},
			{"FromRedis", cached["short_code"].(string), "?b=2", "https://example.com/fwd?id=1&b=2#top"},
			{"WithoutQuery", cached["short_code"].(string), "", "https://example.com/fwd?id=1#top"},
			{"WithVisitLimit", counted["short_code"].(string), "?b=2", "https://example.com/fwd?b=2"},
		} {
			if r := do(t, "GET", b.URL+"/"+tc.code+tc.query, "", ""); r.Status != http.StatusMovedPermanently || r.Header.Get("Location") != tc.want {
				t.Errorf("%s: %d %q, want 301 to %q", tc.name, r.Status, r.Header.Get("Location"), tc.want)
			}
		}
		if got := MustRedisClient(t, rd).Get(context.Background(), link.CodeKey(cached["short_code"].(string))).Val(); got != "+https://example.com/fwd?id=1#top" {
			t.Errorf("cached value = %q, want the target with the forward prefix", got)
		}
		res := doKey(t, "PATCH", api+"/"+cached["short_code"].(string), key, `{"forward_query":false}`)
		if res.Status != http.StatusOK || res.Body["forward_query"] != nil {
			t.Fatalf("patch = %d %s", res.Status, res.Raw)
		}
		if r := do(t, "GET", b.URL+"/"+cached["short_code"].(string)+"?b=2", "", ""); r.Header.Get("Location") != "https://example.com/fwd?id=1#top" {
			t.Errorf("after forward_query false: %q, want the target alone", r.Header.Get("Location"))
		}
	})
	t.Run("ErrBadMeta", func(t *testing.T) {
		many := `"t0"`
		for i := 1; i <= 20; i++ {
			many += fmt.Sprintf(`,"t%d"`, i)
		}
		for _, tc := range []struct{ method, path, body, want string }{
			{"POST", "/api/shorten", `{"url":"https://example.com/x","tags":["` + strings.Repeat("a", 65) + `"]}`, "at most 64 characters"},
			{"POST", "/api/shorten", `{"url":"https://example.com/x","tags":[` + many + `]}`, "at most 20 tags"},
			{"POST", "/api/shorten", `{"url":"https://example.com/x","tags":[" "]}`, "cannot be empty"},
			{"POST", "/api/shorten", `{"url":"https://example.com/x","title":"` + strings.Repeat("t", 513) + `"}`, "at most 512"},
			{"POST", "/api/shorten", `{"url":"https://example.com/x","valid_since":"2031-01-01T00:00:00Z","expires_at":"2030-01-01T00:00:00Z"}`, "after valid_since"},
			{"POST", "/api/shorten", `{"url":"https://example.com/x","valid_since":"soon"}`, "valid_since must be an RFC 3339 time"},
			{"PATCH", "/api/links/summer-sale", `{"valid_since":"2031-01-01T00:00:00Z","expires_at":"2030-01-01T00:00:00Z"}`, "after valid_since"},
			{"PATCH", "/api/links/summer-sale", `{"tags":["a,b"]}`, "comma"},
			{"PATCH", "/api/links/summer-sale", `{"forward_query":null}`, "must be true or false"},
			{"GET", "/api/links?tag=" + strings.Repeat("a", 65), "", "at most 64 characters"},
			{"GET", "/api/links?order=random", "", "order must be"},
			{"GET", "/api/links?tags_mode=some", "", "tags_mode must be"},
			{"GET", "/api/links?created_after=yesterday", "", "created_after must be"},
		} {
			res := doKey(t, tc.method, b.URL+tc.path, key, tc.body)
			if res.Status/100 != 4 || !strings.Contains(res.Raw, tc.want) {
				t.Errorf("%s %s %s = %d %s, want a 4xx saying %q", tc.method, tc.path, tc.body, res.Status, res.Raw, tc.want)
			}
		}
		if got := MustQueryInt(t, db, `SELECT count(*) FROM url_mappings WHERE original_url = 'https://example.com/x'`); got != 0 {
			t.Errorf("%d links made by refused creates", got)
		}
		if res := doKey(t, "GET", api+"/summer-sale", key, ""); res.Body["expires_at"] != nil {
			t.Errorf("a refused patch changed the link: %s", res.Raw)
		}
	})
}

// Links of the schema before tags (migration 11) keep their codes and
// targets, and have no tags, title or start, and are not crawlable.
func TestUpgradeGivesOldLinksNoMeta(t *testing.T) {
	url, upgrade := MustDatabaseAt(t, 11)
	codec, err := link.NewCodec(testCodeSecret)
	if err != nil {
		t.Fatal(err)
	}
	generated, _ := codec.Encode(2) // the last id: the backend checks its code against the secret
	mustExec(t, url, `INSERT INTO url_mappings (id, short_code, original_url, url_hash, access_count)
		VALUES (nextval('url_mappings_id_seq'), 'old-alias', 'https://example.com/old', sha256('https://example.com/old'), 7)`)
	mustExec(t, url, `INSERT INTO edge_aliases (code) VALUES ('old-alias')`) // listed, as that release's create did
	mustExec(t, url, `INSERT INTO url_mappings (id, short_code, original_url, url_hash, access_count)
		VALUES (nextval('url_mappings_id_seq'), $1, 'https://example.com/generated', sha256('https://example.com/generated'), 3)`, generated)
	upgrade()
	b := MustStartBackend(t, url, testenv.SharedRedis(t).URL(), nil)
	key := MustCreateKey(t, url, "upgrade")
	res := doKey(t, "GET", b.URL+"/api/links/old-alias", key, "")
	if res.Status != http.StatusOK || res.Body["original_url"] != "https://example.com/old" || res.Body["access_count"] != float64(7) ||
		res.Body["tags"] != nil || res.Body["title"] != nil || res.Body["valid_since"] != nil || res.Body["crawlable"] != nil || res.Body["forward_query"] != nil {
		t.Errorf("old link after the upgrade = %d %s", res.Status, res.Raw)
	}
	for code, target := range map[string]string{"old-alias": "https://example.com/old", generated: "https://example.com/generated"} {
		if r := do(t, "GET", b.URL+"/"+code, "", ""); r.Status != http.StatusMovedPermanently || r.Header.Get("Location") != target {
			t.Errorf("old link %s redirects %d %s, want 301 to %s", code, r.Status, r.Header.Get("Location"), target)
		}
	}
}

// Roll-ups filed under the parser's old system names are folded into the
// names people look for, added to any filed under the new one already.
func TestUpgradeFoldsOSNames(t *testing.T) {
	url, upgrade := MustDatabaseAt(t, 12)
	mustExec(t, url, `INSERT INTO visit_stats (code, dim, hour, value, visits) VALUES
		('*', 'os', '2026-12-01T10:00:00Z', 'iPhone OS', 3), ('*', 'os', '2026-12-01T10:00:00Z', 'iOS', 2),
		('*', 'os', '2026-12-01T11:00:00Z', 'Mac OS X', 4), ('*', 'browser', '2026-12-01T10:00:00Z', 'Mac OS X', 1)`)
	upgrade()
	for _, tc := range []struct {
		value string
		want  int64
	}{{"iOS", 5}, {"macOS", 4}, {"iPhone OS", 0}, {"Mac OS X", 0}} {
		if got := MustQueryInt(t, url, `SELECT coalesce(sum(visits), 0) FROM visit_stats WHERE dim = 'os' AND value = $1`, tc.value); got != tc.want {
			t.Errorf("os %q after the upgrade: %d visits, want %d", tc.value, got, tc.want)
		}
	}
	if got := MustQueryInt(t, url, `SELECT visits FROM visit_stats WHERE dim = 'browser'`); got != 1 {
		t.Errorf("a browser roll-up changed: %d, want 1", got)
	}
}
