package e2e_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kurzlink/kurz/internal/testenv"
)

// Shlink's web component, the UI of Shlink's web client, rendered in
// headless Chromium from a page of another origin (so through kurz's CORS),
// shows kurz's data: the short URL list, a link made in its form, a link's visits.
func TestShlinkWebComponent(t *testing.T) {
	s := MustStack(t)
	dist := filepath.Join(testenv.NodeClients(t), "dist")
	key := testenv.MustRoleKey(t, s, "author")
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/web-component.js" || r.URL.Path == "/web-component.css" {
			http.ServeFile(w, r, filepath.Join(dist, r.URL.Path[1:]))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8") // every other path: the app, which routes itself
		w.Write([]byte(`<!doctype html><html><head><meta charset="utf-8"><title>Shlink web component</title><link rel="stylesheet" href="/web-component.css"></head><body><div id="root"></div>
<script>window.KURZ = {baseUrl: ` + strconv.Quote(s.Traefik.URL()) + `, apiKey: ` + strconv.Quote(key) + `};</script>
<script type="module" src="/web-component.js"></script></body></html>`))
	}))
	t.Cleanup(page.Close)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	code := "web-" + run
	rest := s.Traefik.URL() + "/rest/v3"
	res := shlinkDoKey(t, "POST", rest+"/short-urls", key, `{"longUrl":"https://example.com/web/`+run+`","customSlug":"`+code+`","title":"Web title `+run+`","tags":["web-`+run+`"]}`)
	if res.Status != 200 {
		t.Fatalf("create = %d %s", res.Status, res.Raw)
	}
	for range 3 {
		if r := testenv.Do(t, "GET", s.Traefik.URL()+"/"+code, "", "User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
			"Referer", "https://news.example.com/item"); r.Status != 301 {
			t.Fatalf("visit = %d", r.Status)
		}
	}
	eventually(t, 20*time.Second, func() error {
		r := shlinkDoKey(t, "GET", rest+"/short-urls/"+code+"/visits", key, "")
		v, _ := r.Body["visits"].(map[string]any)
		if p, _ := v["pagination"].(map[string]any); p["totalItems"] != 3.0 {
			return fmt.Errorf("visits = %s", r.Raw)
		}
		return nil
	})
	ctx := MustBrowser(t)
	text := func() string { return mustRun(t, ctx, chromedp.Evaluate[string](`document.body.innerText`)) }
	showsAll := func(t *testing.T, path string, want ...string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := text()
			missing := ""
			for _, w := range want {
				if !strings.Contains(got, w) {
					missing = w
				}
			}
			if missing == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not show %q:\n%s", path, missing, got)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	t.Run("OKShortURLList", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(page.URL+"/list-short-urls/1")); err != nil {
			t.Fatal(err)
		}
		showsAll(t, "the list", s.Traefik.URL()+"/"+code, "Web title "+run, "web-"+run) // the long URL shows under the title on hover only
		saveScreenshot(t, "shlink-web-list.png", mustRun(t, ctx, chromedp.FullScreenshot(100)))
	})
	t.Run("OKCreateInTheForm", func(t *testing.T) {
		long := "https://example.com/made-in-the-form/" + run
		if err := chromedp.Do(ctx,
			chromedp.Navigate(page.URL+"/create-short-url"),
			chromedp.WaitVisible(chromedp.CSS(`input[placeholder="URL to be shortened"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[placeholder="URL to be shortened"]`), long),
			chromedp.SendKeys(chromedp.CSS(`input[placeholder="Title"]`), "Made in the form"),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		); err != nil {
			t.Fatal(err)
		}
		showsAll(t, "the form's result", "Great!", s.Traefik.URL()+"/")
		saveScreenshot(t, "shlink-web-created.png", mustRun(t, ctx, chromedp.FullScreenshot(100)))
		list := shlinkDoKey(t, "GET", rest+"/short-urls?"+url.Values{"searchTerm": {long}}.Encode(), key, "")
		data, _ := list.Body["shortUrls"].(map[string]any)["data"].([]any)
		if len(data) != 1 || data[0].(map[string]any)["title"] != "Made in the form" {
			t.Fatalf("links of %s = %s", long, list.Raw)
		}
		made := data[0].(map[string]any)["shortUrl"].(string)
		if !strings.Contains(text(), made) {
			t.Errorf("the form shows no %s", made)
		}
	})
	t.Run("OKVisitsOfALink", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(page.URL+"/short-code/"+code+"/visits")); err != nil {
			t.Fatal(err)
		}
		showsAll(t, "the visits page", "Visits: 3", "Web title "+run)
		saveScreenshot(t, "shlink-web-visits.png", mustRun(t, ctx, chromedp.FullScreenshot(100)))
		if err := chromedp.Do(ctx, chromedp.Navigate(page.URL+"/short-code/"+code+"/visits/list")); err != nil {
			t.Fatal(err)
		}
		showsAll(t, "the list of visits", "Firefox", "Linux", "news.example.com")
		saveScreenshot(t, "shlink-web-visits-list.png", mustRun(t, ctx, chromedp.FullScreenshot(100)))
	})
}

func shlinkDoKey(tb testing.TB, method, url, key, body string) response {
	tb.Helper()
	return testenv.Do(tb, method, url, body, "X-Api-Key", key, "Content-Type", "application/json")
}
