package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

func TestShorten(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)

	t.Run("OK", func(t *testing.T) {
		res := shorten(t, b.URL, "https://www.example.com/very/long/url/path")
		if got, want := res.Status, http.StatusCreated; got != want {
			t.Fatalf("status = %d, want %d: %s", got, want, res.Raw)
		}
		code, _ := res.Body["short_code"].(string)
		if !link.IsCode(code) {
			t.Fatalf("short_code = %q", code)
		}
		if got, want := res.Body["short_url"], "http://kurz.test/"+code; got != want {
			t.Errorf("short_url = %v, want %v", got, want)
		}
		if got, want := res.Body["original_url"], "https://www.example.com/very/long/url/path"; got != want {
			t.Errorf("original_url = %v, want %v", got, want)
		}
		again := shorten(t, b.URL, "HTTPS://WWW.EXAMPLE.COM:443/very/long/url/path")
		if again.Status != http.StatusOK || again.Body["short_code"] != code {
			t.Errorf("same URL again = %d %s, want 200 with %s", again.Status, again.Raw, code)
		}
	})

	t.Run("SameCodeWithoutCache", func(t *testing.T) {
		code := MustShorten(t, b.URL, "https://example.org/dedup-in-postgres")
		MustRedisClient(t, rd).FlushDB(context.Background())
		res := shorten(t, b.URL, "https://example.org/dedup-in-postgres")
		if res.Status != http.StatusOK || res.Body["short_code"] != code {
			t.Errorf("after cache flush = %d %s, want 200 with %s", res.Status, res.Raw, code)
		}
	})

	t.Run("ConcurrentDuplicatesMakeOneRow", func(t *testing.T) {
		other := MustStartBackend(t, db, rd.URL(), nil) // a second replica
		const n = 50
		url := "https://example.net/concurrent"
		codes := make([]string, n)
		statuses := onReplicas(n, b, other, func(i int, base string) int {
			res := shorten(t, base, url)
			codes[i], _ = res.Body["short_code"].(string)
			return res.Status
		})
		for i := range codes {
			if codes[i] != codes[0] || codes[i] == "" {
				t.Fatalf("codes differ: %q vs %q", codes[i], codes[0])
			}
		}
		if created := count(statuses, http.StatusCreated); created != 1 {
			t.Errorf("%d responses said 201, want exactly 1", created)
		}
		if got := MustQueryInt(t, db, `SELECT count(*) FROM url_mappings WHERE original_url = $1`, url); got != 1 {
			t.Errorf("rows = %d, want 1", got)
		}
	})
}

func TestShortenBadInput(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), map[string]string{"KURZ_MAX_URL_LENGTH": "200"})
	const js = "application/json"
	for _, tc := range []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"ErrMalformedJSON", js, `{"url": `, 400, "invalid_request"},
		{"ErrNotJSON", js, `hello`, 400, "invalid_request"},
		{"ErrEmptyBody", js, ``, 400, "invalid_request"},
		{"ErrUnknownField", js, `{"url":"https://example.com/","x":1}`, 400, "invalid_request"},
		{"ErrWrongType", js, `{"url": 42}`, 400, "invalid_request"},
		{"ErrTwoObjects", js, `{"url":"https://example.com/a"} {"url":"https://example.com/b"}`, 400, "invalid_request"},
		{"ErrArray", js, `["https://example.com/"]`, 400, "invalid_request"},
		{"ErrTooLarge", js, `{"url":"https://example.com/` + strings.Repeat("a", 9000) + `"}`, 413, "payload_too_large"},
		{"ErrContentType", "text/plain", `{"url":"https://example.com/"}`, 415, "unsupported_media_type"},
		{"ErrNoContentType", "", `{"url":"https://example.com/"}`, 415, "unsupported_media_type"},
		{"ErrMissingURL", js, `{}`, 422, "invalid_url"},
		{"ErrNullURL", js, `{"url": null}`, 422, "invalid_url"},
		{"ErrJavascript", js, `{"url":"javascript:alert(1)"}`, 422, "invalid_url"},
		{"ErrData", js, `{"url":"data:text/html,hi"}`, 422, "invalid_url"},
		{"ErrFile", js, `{"url":"file:///etc/passwd"}`, 422, "invalid_url"},
		{"ErrCredentials", js, `{"url":"https://bank.com@evil.example"}`, 422, "invalid_url"},
		{"ErrRelative", js, `{"url":"/just/a/path"}`, 422, "invalid_url"},
		{"ErrTooLong", js, `{"url":"https://example.com/` + strings.Repeat("a", 200) + `"}`, 422, "invalid_url"},
		{"ErrControlChars", js, `{"url":"https://example.com/\u0000x"}`, 422, "invalid_url"},
		{"ErrNewline", js, `{"url":"https://example.com/\r\nSet-Cookie: a=b"}`, 422, "invalid_url"},
		{"ErrLoop", js, `{"url":"http://KURZ.test/aB3dEfG"}`, 422, "invalid_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, http.MethodPost, b.URL+"/api/shorten", tc.contentType, tc.body)
			if res.Status != tc.status || errorCode(res) != tc.code {
				t.Errorf("got %d %s, want %d with code %s", res.Status, res.Raw, tc.status, tc.code)
			}
			if msg, _ := res.Body["error"].(map[string]any)["message"].(string); msg == "" {
				t.Errorf("no error message: %s", res.Raw)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
	t.Run("NothingStored", func(t *testing.T) {
		if got := MustQueryInt(t, db, `SELECT count(*) FROM url_mappings`); got != 0 {
			t.Errorf("rows = %d, want 0", got)
		}
	})
	t.Run("ErrMethod", func(t *testing.T) {
		res := do(t, http.MethodGet, b.URL+"/api/shorten", "", "")
		if res.Status != http.StatusMethodNotAllowed || errorCode(res) != "method_not_allowed" {
			t.Errorf("GET /api/shorten = %d %s", res.Status, res.Raw)
		}
	})
}
