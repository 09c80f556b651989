package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kurzlink/kurz/internal/testenv"
)

// Anyone can report a link; key holders read the reports of the links they manage.
func TestReports(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	admin, author, other := MustCreateRoleKey(t, db, "admin", "admin"), MustCreateRoleKey(t, db, "author", "author"), MustCreateRoleKey(t, db, "other", "author")
	anon := MustShorten(t, b.URL, "https://example.com/reported-anonymous")
	owned := MustShortenWithKey(t, b.URL, author, "https://example.com/reported-owned")

	t.Run("OKByCodeAndByShortURL", func(t *testing.T) {
		for _, code := range []string{anon, "http://kurz.test/" + owned} {
			res := do(t, "POST", b.URL+"/api/reports", "application/json", `{"code":"`+code+`","reason":"phishing page"}`)
			if res.Status != http.StatusCreated || res.Body["id"] == nil {
				t.Errorf("report %s = %d %s", code, res.Status, res.Raw)
			}
		}
	})
	t.Run("ErrBadReports", func(t *testing.T) {
		for body, want := range map[string]int{
			`{"code":"zzzzzzz","reason":"x"}`:                                      404,
			`{"code":"` + anon + `","reason":"   "}`:                               422,
			`{"code":"` + anon + `","reason":"` + strings.Repeat("a", 1001) + `"}`: 422,
			`{"code":"` + anon + `"}`:                                              422,
			`{"code":"` + anon + `","reason":"x","extra":1}`:                       400,
		} {
			if res := do(t, "POST", b.URL+"/api/reports", "application/json", body); res.Status != want {
				t.Errorf("%.60s = %d %s, want %d", body, res.Status, res.Raw, want)
			}
		}
	})
	t.Run("ListedForKeyHolders", func(t *testing.T) {
		for key, want := range map[string]int{admin: 2, author: 1, other: 0} {
			res := doKey(t, "GET", b.URL+"/api/reports", key, "")
			got, _ := res.Body["reports"].([]any)
			if res.Status != http.StatusOK || len(got) != want {
				t.Errorf("reports listed = %d (%d), want %d", len(got), res.Status, want)
			}
		}
		if res := do(t, "GET", b.URL+"/api/reports", "", ""); res.Status != http.StatusUnauthorized {
			t.Errorf("reports without a key = %d, want 401", res.Status)
		}
	})
	t.Run("FormRedirectsAfterThePost", func(t *testing.T) {
		res, err := noRedirect.PostForm(b.URL+"/report", url.Values{"code": {anon}, "reason": {"malware download"}})
		if err != nil {
			t.Fatal(err)
		}
		readAll(res)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/report?sent=1" {
			t.Fatalf("form post = %d %q", res.StatusCode, res.Header.Get("Location"))
		}
		if page := get(t, b.URL+"/report?sent=1", "text/html"); !strings.Contains(page.Raw, "Thank you") {
			t.Errorf("thanks page: %.300s", page.Raw)
		}
		if got := MustQueryInt(t, db, `SELECT count(*) FROM reports WHERE reason = 'malware download'`); got != 1 {
			t.Errorf("%d reports stored, want 1", got)
		}
	})
	t.Run("LinkedFromThePages", func(t *testing.T) {
		if home := get(t, b.URL+"/", "text/html"); !strings.Contains(home.Raw, `href="/report"`) {
			t.Error("the home page has no link to report one")
		}
		if nf := get(t, b.URL+"/zzzzzzz", "text/html"); !strings.Contains(nf.Raw, `href="/report?code=zzzzzzz"`) {
			t.Error("the 404 page has no link to report this link")
		}
	})
}
