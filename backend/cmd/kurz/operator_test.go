package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/kurzlink/kurz/internal/testenv"
)

// What a new operator ran into: uptime monitors, 410 pages, key commands,
// error messages, browsers on other origins.
func TestOperatorRoughEdges(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), map[string]string{"KURZ_CORS_ORIGINS": "https://app.example"})

	t.Run("HeadForMonitors", func(t *testing.T) {
		for _, path := range []string{"/", "/static/app.js", "/api/openapi.json", "/health"} {
			res := do(t, "HEAD", b.URL+path, "", "")
			if res.Status != http.StatusOK || res.Raw != "" {
				t.Errorf("HEAD %s = %d with %d bytes, want 200 and no body", path, res.Status, len(res.Raw))
			}
		}
	})
	t.Run("UsedUpLinkIsGoneEverywhere", func(t *testing.T) {
		res := do(t, "POST", b.URL+"/api/shorten", "application/json", `{"url":"https://example.com/once","max_visits":1}`)
		code := res.Body["short_code"].(string)
		if got := do(t, "GET", b.URL+"/"+code, "", "").Status; got != http.StatusMovedPermanently {
			t.Fatalf("first visit = %d", got)
		}
		if got := do(t, "GET", b.URL+"/"+code+"/qr", "", "").Status; got != http.StatusGone {
			t.Errorf("QR code of a used-up link = %d, want 410", got)
		}
		page := testenv.Do(t, "GET", b.URL+"/"+code, "", "Accept", "text/html")
		if page.Status != http.StatusGone || !strings.Contains(page.Raw, "visit limit") || strings.Contains(page.Raw, "expired") {
			t.Errorf("410 page = %d, want it to say the visit limit was reached:\n%.300s", page.Status, page.Raw)
		}
	})
	t.Run("KeysSayWhichDatabase", func(t *testing.T) {
		env := map[string]string{"DATABASE_URL": "postgres://kurz:hunter2@127.0.0.1:1/kurz?sslmode=disable&connect_timeout=2"}
		err := run(context.Background(), []string{"kurz", "keys", "list"}, func(k string) string { return env[k] }, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "make keys") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("keys against a closed port: %v; want the address (without the password) and the make keys hint", err)
		}
	})
	t.Run("ErrorsSayWhatToSend", func(t *testing.T) {
		for body, want := range map[string]string{
			`{"url":"https://example.com/a","max_visits":"5"}`: `field "max_visits" must be a whole number`,
			`{"url":5}`: `field "url" must be a string`,
			`{"url":"https://a.example/"}{"url":"https://b.example/"}`: "single JSON object",
			`["https://example.com/"]`:                                 "must be a JSON object",
		} {
			res := do(t, "POST", b.URL+"/api/shorten", "application/json", body)
			msg, _ := res.Body["error"].(map[string]any)["message"].(string)
			if res.Status != http.StatusBadRequest || !strings.Contains(msg, want) || strings.Contains(msg, "int64") {
				t.Errorf("%s: %d %q, want 400 saying %q", body, res.Status, msg, want)
			}
		}
	})
	t.Run("CORS", func(t *testing.T) {
		for _, tc := range []struct {
			name, origin, allow string
		}{
			{"OKListedOrigin", "https://app.example", "https://app.example"},
			{"ErrOtherOrigin", "https://evil.example", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				pre := testenv.Do(t, "OPTIONS", b.URL+"/api/shorten", "", "Origin", tc.origin, "Access-Control-Request-Method", "POST",
					"Access-Control-Request-Headers", "content-type")
				if got := pre.Header.Get("Access-Control-Allow-Origin"); got != tc.allow {
					t.Errorf("preflight Allow-Origin = %q, want %q", got, tc.allow)
				}
				res := testenv.Do(t, "POST", b.URL+"/api/shorten", `{"url":"https://example.com/cors"}`, "Content-Type", "application/json", "Origin", tc.origin)
				if got := res.Header.Get("Access-Control-Allow-Origin"); got != tc.allow || res.Status >= 300 {
					t.Errorf("POST: %d, Allow-Origin = %q, want %q", res.Status, got, tc.allow)
				}
			})
		}
	})
}

func TestDefaultListenAddressIsLoopback(t *testing.T) {
	cfg, err := loadConfig(func(k string) string { return map[string]string{"KURZ_CODE_SECRET": testCodeSecret}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.ListenAddr, "127.0.0.1:8088"; got != want {
		t.Errorf("default listen address = %q, want %q (loopback, clear of Traefik's API ports)", got, want)
	}
}

// Typed clients cannot send null: 0 clears max_visits and resets redirect, "" clears expires_at.
func TestPatchClearsWithZeroValues(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	key := MustCreateKey(t, db, "ops")
	res := doKey(t, "POST", b.URL+"/api/shorten", key, `{"url":"https://example.com/zero","max_visits":3,"redirect":307,"expires_at":"2099-01-01T00:00:00Z"}`)
	code := res.Body["short_code"].(string)
	res = doKey(t, "PATCH", b.URL+"/api/links/"+code, key, `{"max_visits":0,"redirect":0,"expires_at":""}`)
	if res.Status != http.StatusOK || res.Body["max_visits"] != nil || res.Body["expires_at"] != nil || res.Body["redirect"] != float64(301) {
		t.Errorf("PATCH with zero values = %d %s, want no limit, no expiry, the default redirect", res.Status, res.Raw)
	}
	if res := doKey(t, "PATCH", b.URL+"/api/links/"+code, key, `{"max_visits":-1}`); res.Status != http.StatusUnprocessableEntity {
		t.Errorf("max_visits -1 = %d, want 422", res.Status)
	}
}

// An operator switches one link off: 410 (a page saying so for browsers),
// its QR code too, until it is switched on again.
func TestDisabledLink(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	key := MustCreateKey(t, db, "ops")
	code := MustShorten(t, b.URL, "https://example.com/to-disable")
	do(t, "GET", b.URL+"/"+code, "", "") // cached in Redis
	res := doKey(t, "PATCH", b.URL+"/api/links/"+code, key, `{"disabled":true}`)
	if res.Status != http.StatusOK || res.Body["disabled"] != true {
		t.Fatalf("PATCH disabled = %d %s", res.Status, res.Raw)
	}
	for _, path := range []string{"/" + code, "/" + code + "/qr"} {
		if got := do(t, "GET", b.URL+path, "", "").Status; got != http.StatusGone {
			t.Errorf("GET %s of a disabled link = %d, want 410", path, got)
		}
	}
	page := testenv.Do(t, "GET", b.URL+"/"+code, "", "Accept", "text/html")
	if page.Status != http.StatusGone || !strings.Contains(page.Raw, "disabled") {
		t.Errorf("browser page = %d, want 410 saying the link was disabled", page.Status)
	}
	mustAccessCount(t, db, code, 1) // the visit before; refused ones are not counted
	if res := doKey(t, "PATCH", b.URL+"/api/links/"+code, key, `{"disabled":null}`); res.Status != http.StatusBadRequest {
		t.Errorf("disabled null = %d, want 400", res.Status)
	}
	doKey(t, "PATCH", b.URL+"/api/links/"+code, key, `{"disabled":false}`)
	if got := do(t, "GET", b.URL+"/"+code, "", "").Status; got != http.StatusMovedPermanently {
		t.Errorf("switched on again = %d, want 301", got)
	}
}
