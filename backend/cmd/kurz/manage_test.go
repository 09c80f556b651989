package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
)

// MustCreateKey makes an admin API key with the CLI, as an operator would.
func MustCreateKey(tb testing.TB, databaseURL, name string) string {
	tb.Helper()
	return MustCreateRoleKey(tb, databaseURL, name, "admin")
}

// MustCreateRoleKey makes an API key of role with the CLI.
func MustCreateRoleKey(tb testing.TB, databaseURL, name, role string) string {
	tb.Helper()
	var out bytes.Buffer
	env := map[string]string{"DATABASE_URL": databaseURL}
	if err := run(context.Background(), []string{"kurz", "keys", "create", "--name", name, "--role", role}, func(k string) string { return env[k] }, &out); err != nil {
		tb.Fatalf("keys create: %v", err)
	}
	key, _, _ := strings.Cut(out.String(), "\n")
	return key
}

func doKey(tb testing.TB, method, url, key, body string) response {
	tb.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return testenv.Do(tb, method, url, body, "Content-Type", ct, "Authorization", "Bearer "+key)
}

func TestAPIKeys(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	key := MustCreateKey(t, db, "ci")

	t.Run("ErrNoKey", func(t *testing.T) {
		res := doKey(t, "GET", b.URL+"/api/links", "", "")
		if res.Status != 401 || errorCode(res) != "unauthorized" || res.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("no key = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("ErrWrongKey", func(t *testing.T) {
		for _, k := range []string{"kurz_wrong", "nonsense", key + "x"} {
			if res := doKey(t, "GET", b.URL+"/api/links", k, ""); res.Status != 401 {
				t.Errorf("key %q = %d", k, res.Status)
			}
		}
	})
	t.Run("OKBearerAndHeader", func(t *testing.T) {
		if res := doKey(t, "GET", b.URL+"/api/links", key, ""); res.Status != 200 {
			t.Errorf("Bearer = %d %s", res.Status, res.Raw)
		}
		req, _ := http.NewRequest("GET", b.URL+"/api/links", nil)
		req.Header.Set("X-API-Key", key)
		res, err := noRedirect.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Errorf("X-API-Key = %v %v", res.StatusCode, err)
		}
		res.Body.Close()
	})
	t.Run("Revoked", func(t *testing.T) {
		other := MustCreateKey(t, db, "temporary")
		var out bytes.Buffer
		env := map[string]string{"DATABASE_URL": db}
		if err := run(context.Background(), []string{"kurz", "keys", "revoke", "temporary"}, func(k string) string { return env[k] }, &out); err != nil {
			t.Fatal(err)
		}
		if res := doKey(t, "GET", b.URL+"/api/links", other, ""); res.Status != 401 {
			t.Errorf("revoked key = %d", res.Status)
		}
		out.Reset()
		run(context.Background(), []string{"kurz", "keys", "list"}, func(k string) string { return env[k] }, &out)
		if !strings.Contains(out.String(), "temporary") || strings.Contains(out.String(), other) {
			t.Errorf("keys list = %s", out.String())
		}
	})
	t.Run("KeysNeverLogged", func(t *testing.T) {
		if strings.Contains(b.logs.String(), key) {
			t.Error("the key appears in the logs")
		}
	})
	t.Run("ShortenNeedsKeyWhenConfigured", func(t *testing.T) {
		closed := MustStartBackend(t, db, rd.URL(), map[string]string{"KURZ_REQUIRE_API_KEY": "true"})
		body := `{"url":"https://example.com/closed"}`
		if res := doKey(t, "POST", closed.URL+"/api/shorten", "", body); res.Status != 401 {
			t.Errorf("without key = %d", res.Status)
		}
		if res := doKey(t, "POST", closed.URL+"/api/shorten", key, body); res.Status != 201 {
			t.Errorf("with key = %d %s", res.Status, res.Raw)
		}
	})
}

func TestShortenOptions(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	post := func(body string) response { return doKey(t, "POST", b.URL+"/api/shorten", "", body) }
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	t.Run("Alias", func(t *testing.T) {
		res := post(`{"url":"https://example.com/alias","alias":"my-link"}`)
		if res.Status != 201 || res.Body["short_code"] != "my-link" {
			t.Fatalf("alias = %d %s", res.Status, res.Raw)
		}
		if r := do(t, "GET", b.URL+"/my-link", "", ""); r.Status != 301 || r.Header.Get("Location") != "https://example.com/alias" {
			t.Errorf("GET /my-link = %d %s", r.Status, r.Header.Get("Location"))
		}
		if r := post(`{"url":"https://example.com/other","alias":"my-link"}`); r.Status != 409 || errorCode(r) != "conflict" {
			t.Errorf("taken alias = %d %s", r.Status, r.Raw)
		}
	})
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"ErrReservedAlias", `{"url":"https://example.com/","alias":"api"}`, 422},
		{"ErrReservedAliasCase", `{"url":"https://example.com/","alias":"Health"}`, 422},
		{"ErrAliasShort", `{"url":"https://example.com/","alias":"ab"}`, 422},
		{"ErrAliasChars", `{"url":"https://example.com/","alias":"a/b.c"}`, 422},
		{"ErrAliasType", `{"url":"https://example.com/","alias":5}`, 400},
		{"ErrPastExpiry", `{"url":"https://example.com/","expires_at":"2001-01-01T00:00:00Z"}`, 422},
		{"ErrBadExpiry", `{"url":"https://example.com/","expires_at":"tomorrow"}`, 422},
		{"ErrExpiryType", `{"url":"https://example.com/","expires_at":7}`, 400},
		{"ErrNegativeMaxVisits", `{"url":"https://example.com/","max_visits":-1}`, 422},
		{"ErrZeroMaxVisits", `{"url":"https://example.com/","max_visits":0}`, 422},
		{"ErrMaxVisitsType", `{"url":"https://example.com/","max_visits":"3"}`, 400},
		{"ErrRedirect", `{"url":"https://example.com/","redirect":303}`, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res := post(tc.body); res.Status != tc.status || errorCode(res) == "" {
				t.Errorf("%s = %d %s, want %d", tc.body, res.Status, res.Raw, tc.status)
			}
		})
	}
	t.Run("AliasRace", func(t *testing.T) {
		other := MustStartBackend(t, db, rd.URL(), nil)
		statuses := onReplicas(20, b, other, func(i int, base string) int {
			return doKey(t, "POST", base+"/api/shorten", "", fmt.Sprintf(`{"url":"https://example.com/race/%d","alias":"raced"}`, i)).Status
		})
		if created, conflicts := count(statuses, 201), count(statuses, 409); created != 1 || conflicts != 19 {
			t.Errorf("20 creates of one alias: %d created, %d conflicts (%v)", created, conflicts, statuses)
		}
	})
	t.Run("RedirectStatus", func(t *testing.T) {
		res := post(`{"url":"https://example.com/temporary","redirect":302}`)
		code, _ := res.Body["short_code"].(string)
		if r := do(t, "GET", b.URL+"/"+code, "", ""); r.Status != 302 {
			t.Errorf("redirect 302 link = %d", r.Status)
		}
	})
	t.Run("OptionsMakeNewLinks", func(t *testing.T) {
		a := post(`{"url":"https://example.com/opts"}`)
		c := post(`{"url":"https://example.com/opts","expires_at":"` + future + `"}`)
		if c.Status != 201 || a.Body["short_code"] == c.Body["short_code"] {
			t.Errorf("a link with options reused the plain one: %s %s", a.Raw, c.Raw)
		}
	})
	t.Run("MaxVisitsNeverExceeded", func(t *testing.T) {
		other := MustStartBackend(t, db, rd.URL(), nil)
		res := post(`{"url":"https://example.com/limited","max_visits":3}`)
		code, _ := res.Body["short_code"].(string)
		statuses := onReplicas(12, b, other, func(_ int, base string) int {
			return do(t, "GET", base+"/"+code, "", "").Status
		})
		if ok, gone := count(statuses, 301), count(statuses, 410); ok != 3 || gone != 9 {
			t.Errorf("12 visits of a 3-visit link: %d redirected, %d gone (%v)", ok, gone, statuses)
		}
		if n := MustQueryInt(t, db, `SELECT access_count FROM url_mappings WHERE short_code = $1`, code); n != 3 {
			t.Errorf("access_count = %d, want 3", n)
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		soon := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
		res := post(`{"url":"https://example.com/expiring","expires_at":"` + soon + `"}`)
		code, _ := res.Body["short_code"].(string)
		if r := do(t, "GET", b.URL+"/"+code, "", ""); r.Status != 301 {
			t.Fatalf("before expiry = %d %s", r.Status, r.Raw)
		}
		time.Sleep(1700 * time.Millisecond)
		if r := do(t, "GET", b.URL+"/"+code, "", ""); r.Status != 410 || errorCode(r) != "gone" {
			t.Errorf("after expiry = %d %s", r.Status, r.Raw)
		}
	})
}
