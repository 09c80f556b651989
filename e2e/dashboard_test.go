package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The Traefik that make run builds serves its dashboard, and an operator
// finds kurz's routers and the edge plugin's middleware in it.
func TestTraefikDashboardShowsKurz(t *testing.T) {
	s := MustStack(t)
	if res := do(t, "GET", s.Traefik.APIURL()+"/dashboard/", "", ""); res.Status != 200 || !strings.Contains(res.Raw, "<html") {
		t.Fatalf("GET /dashboard/ = %d %.200s; the Traefik binary has no dashboard (scripts/build-traefik.sh builds it with npm)", res.Status, res.Raw)
	}
	ctx := MustBrowser(t)
	for _, page := range []struct{ path, want, shot string }{
		{"/dashboard/#/http/routers", "kurz-redirect@file", "dashboard-routers.png"},
		{"/dashboard/#/http/middlewares", "kurz-edge@file", "dashboard-middlewares.png"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(s.Traefik.APIURL()+page.path)); err != nil {
			t.Fatalf("opening %s: %v", page.path, err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			text := mustRun(t, ctx, chromedp.Text(chromedp.CSS("body")))
			if strings.Contains(text, page.want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never showed %q; it shows: %.500s", page.path, page.want, text)
			}
			time.Sleep(200 * time.Millisecond)
		}
		saveScreenshot(t, page.shot, mustRun(t, ctx, chromedp.FullScreenshot(100)))
	}
}
