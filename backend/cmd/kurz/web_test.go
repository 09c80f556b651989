package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kurzlink/kurz/internal/testenv"
)

func get(tb testing.TB, u, accept string) response {
	tb.Helper()
	return testenv.Do(tb, http.MethodGet, u, "", "Accept", accept)
}

func TestWebPage(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	b := MustStartBackend(t, pg.NewDatabase(t), rd.URL(), nil)
	const html = "text/html,application/xhtml+xml"

	t.Run("Home", func(t *testing.T) {
		res := get(t, b.URL+"/", html)
		if res.Status != 200 || !strings.Contains(res.Raw, `<form id="shorten-form" method="post" action="/"`) {
			t.Fatalf("GET / = %d %.200s", res.Status, res.Raw)
		}
		for header, want := range map[string]string{
			"Content-Security-Policy": "script-src 'self'",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
		} {
			if got := res.Header.Get(header); !strings.Contains(got, want) {
				t.Errorf("%s = %q, want it to contain %q", header, got, want)
			}
		}
		if strings.Contains(res.Raw, "<script>") {
			t.Error("inline script on the page")
		}
	})
	t.Run("Static", func(t *testing.T) {
		for path, ctype := range map[string]string{"/static/app.js": "javascript", "/static/app.css": "text/css"} {
			res := get(t, b.URL+path, "")
			if res.Status != 200 || !strings.Contains(res.Header.Get("Content-Type"), ctype) {
				t.Errorf("GET %s = %d %s", path, res.Status, res.Header.Get("Content-Type"))
			}
		}
	})
	t.Run("FormPostWithoutJavaScript", func(t *testing.T) {
		res, err := noRedirect.PostForm(b.URL+"/", url.Values{"url": {"https://example.com/from-the-form"}})
		if err != nil {
			t.Fatal(err)
		}
		readAll(res)
		// Redirected after the post, so that reloading the result does not post again.
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/?code=") {
			t.Fatalf("form post = %d Location %q, want 303 to /?code=…", res.StatusCode, res.Header.Get("Location"))
		}
		page := get(t, b.URL+res.Header.Get("Location"), html)
		if page.Status != http.StatusOK || !strings.Contains(page.Raw, `id="short-url" href="http://kurz.test/`) ||
			!strings.Contains(page.Raw, "https://example.com/from-the-form") {
			t.Fatalf("page after the post = %d %.400s", page.Status, page.Raw)
		}
	})
	t.Run("FormOffersTheHTTPSLink", func(t *testing.T) {
		res, err := noRedirect.PostForm(b.URL+"/", url.Values{"url": {"example.com/typed-without-scheme"}})
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(res)
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `name="url" value="https://example.com/typed-without-scheme"`) {
			t.Fatalf("form post of example.com/… = %d, want 422 offering the https link: %.800s", res.StatusCode, body)
		}
		if api := shorten(t, b.URL, "example.com/typed-without-scheme"); api.Status != http.StatusUnprocessableEntity {
			t.Errorf("the API took a URL without a scheme: %d", api.Status)
		}
	})
	t.Run("ErrFormPostInvalidURL", func(t *testing.T) {
		res, err := noRedirect.PostForm(b.URL+"/", url.Values{"url": {"javascript:alert(1)"}})
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(res)
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Only absolute http and https URLs can be shortened.") {
			t.Fatalf("form post = %d %.600s", res.StatusCode, body)
		}
		if strings.Contains(body, `value="javascript:alert(1)"`) == false {
			t.Error("the field lost what was typed")
		}
	})
	t.Run("QR", func(t *testing.T) {
		code := MustShorten(t, b.URL, "https://example.com/qr")
		res := get(t, b.URL+"/"+code+"/qr", "")
		if res.Status != 200 || res.Header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(res.Raw, "<svg") {
			t.Fatalf("QR = %d %s %.100s", res.Status, res.Header.Get("Content-Type"), res.Raw)
		}
		if got := get(t, b.URL+"/zzzzzzz/qr", "").Status; got != 404 {
			t.Errorf("QR of an unknown code = %d, want 404", got)
		}
	})
	t.Run("UnknownCodeForBrowsersIsAPage", func(t *testing.T) {
		res := get(t, b.URL+"/zzzzzzz", html)
		if res.Status != 404 || !strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(res.Raw, "does not exist") {
			t.Errorf("browser 404 = %d %s", res.Status, res.Header.Get("Content-Type"))
		}
		api := get(t, b.URL+"/zzzzzzz", "application/json")
		if api.Status != 404 || api.Header.Get("Content-Type") != "application/json" {
			t.Errorf("API 404 = %d %s", api.Status, api.Header.Get("Content-Type"))
		}
	})
}

func readAll(res *http.Response) string { return testenv.ReadResponse(res).Raw }
