package e2e_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kurzlink/kurz/internal/testenv"
)

// The status page shows admins every edge, from the statistics the edges
// publish: after known traffic the edge of the stack is listed, answering.
func TestStatusPage(t *testing.T) {
	s := MustStack(t)
	admin, author := MustRoleKey(t, s, "admin"), MustRoleKey(t, s, "author")
	code := MustShorten(t, s, "https://example.com/e2e/status")
	for i := 0; i < 20; i++ {
		if r := do(t, "GET", s.Traefik.URL()+"/"+code, "", ""); r.Status != http.StatusMovedPermanently {
			t.Fatalf("redirect: %d", r.Status)
		}
	}
	t.Run("API", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := testenv.Do(t, "GET", s.Traefik.URL()+"/api/status", "", "Authorization", "Bearer "+admin)
			edges, _ := r.Body["edges"].([]any)
			if r.Status == http.StatusOK && len(edges) == 1 {
				e := edges[0].(map[string]any)
				if answered, _ := e["answered"].(float64); answered >= 20 {
					if e["breaker_open"] != false || r.Body["postgres"].(map[string]any)["ok"] != true || r.Body["redis"].(map[string]any)["ok"] != true {
						t.Errorf("status = %s, want the breaker closed and both dependencies answering", r.Raw)
					}
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the status never showed the edge's 20 redirects: %d %s", r.Status, r.Raw)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if r := testenv.Do(t, "GET", s.Traefik.URL()+"/api/status", "", "Authorization", "Bearer "+author); r.Status != http.StatusForbidden {
			t.Errorf("an author's status = %d %s, want 403", r.Status, r.Raw)
		}
	})
	t.Run("InBrowser", func(t *testing.T) {
		ctx := MustBrowser(t)
		signIn := func(key string) {
			t.Helper()
			if err := chromedp.Do(ctx,
				chromedp.Navigate(s.Traefik.URL()+"/manage"),
				chromedp.WaitVisible(chromedp.ID("key")),
				chromedp.SetValue(chromedp.ID("key"), key),
				chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)),
				chromedp.WaitVisible(chromedp.ID("app")),
			); err != nil {
				t.Fatal(err)
			}
		}
		signIn(author)
		if shown := mustRun(t, ctx, chromedp.Evaluate[bool](`!document.getElementById('status-link').hidden`)); shown {
			t.Error("an author's management page links the status")
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("signout")), watchCSP); err != nil {
			t.Fatal(err)
		}
		signIn(admin)
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.ID("status-link")),
			chromedp.WaitVisible(chromedp.CSS(`#edges tbody tr`)),
		); err != nil {
			t.Fatal(err)
		}
		mustShowText(t, ctx, "#postgres", "answering")
		mustShowText(t, ctx, "#redis", "answering")
		row := mustRun(t, ctx, chromedp.Evaluate[string](`document.querySelector('#edges tbody tr').textContent`))
		if !strings.Contains(row, "closed") || !strings.Contains(row, "answered") {
			t.Errorf("the edge's row reads %q, want its breaker closed and its answers", row)
		}
		mustFitAPhone(t, ctx, "status")
	})
}
