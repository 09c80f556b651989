package e2e_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kurzlink/kurz/internal/testenv"
)

// An operator manages links in the browser, through Traefik: a wrong key is
// refused, then sign in, create with options, edit, delete with a confirmation.
func TestManagementPage(t *testing.T) {
	s := MustStack(t)
	key := MustRoleKey(t, s, "admin")
	ctx := MustBrowser(t)
	page := s.Traefik.URL() + "/manage"
	alias := fmt.Sprintf("mg-%d", time.Now().UnixNano()%1_000_000_000)
	row := `#links tr[data-code="` + alias + `"]`
	waitText := func(sel, want string) { t.Helper(); mustShowText(t, ctx, sel, want) }

	t.Run("ErrWrongKey", func(t *testing.T) {
		if err := chromedp.Do(ctx,
			chromedp.Navigate(page),
			chromedp.WaitVisible(chromedp.ID("key")),
			chromedp.SendKeys(chromedp.ID("key"), "kurz_not-a-real-key"),
			chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)),
		); err != nil {
			t.Fatal(err)
		}
		waitText("#signin-error", "not valid")
		if stored := mustRun(t, ctx, chromedp.Evaluate[string](`sessionStorage.getItem('kurz.key') || ''`)); stored != "" {
			t.Errorf("a refused key was kept: %q", stored)
		}
	})
	t.Run("SignInAndCreate", func(t *testing.T) {
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.ID("key"), key),
			chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)),
			chromedp.WaitVisible(chromedp.ID("create")),
			chromedp.SendKeys(chromedp.ID("c-url"), "https://example.com/managed/first"),
			chromedp.SendKeys(chromedp.ID("c-alias"), alias),
			chromedp.SendKeys(chromedp.ID("c-max"), "5"),
			chromedp.SetValue(chromedp.ID("c-redirect"), "302"),
			chromedp.SendKeys(chromedp.ID("c-title"), "Managed link"),
			chromedp.SendKeys(chromedp.ID("c-tags"), "Launch, promo"),
			chromedp.Click(chromedp.CSS(`#create button[type=submit]`)),
		); err != nil {
			t.Fatal(err)
		}
		waitText("#who", "admin key")
		waitText("#create-status", "Created")
		waitText(row, "https://example.com/managed/first")
		waitText(row, "at most 5 visits")
		waitText(row, "Managed link")
		waitText(row, "tags: launch, promo")
		if res := do(t, "GET", s.Traefik.URL()+"/"+alias, "", ""); res.Status != 302 || res.Header.Get("Location") != "https://example.com/managed/first" {
			t.Errorf("the link made on the page = %d %s", res.Status, res.Header.Get("Location"))
		}
		saveScreenshot(t, "manage-desktop.png", mustRun(t, ctx, chromedp.FullScreenshot(100)))
	})
	t.Run("Edit", func(t *testing.T) {
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(row+` button[aria-label^="Edit"]`)),
			chromedp.WaitVisible(chromedp.ID("e-url")),
			chromedp.SetValue(chromedp.ID("e-url"), "https://example.com/managed/second"),
			chromedp.SetValue(chromedp.ID("e-max"), ""),
			chromedp.Click(chromedp.ID("e-forward")),
			chromedp.Click(chromedp.ID("e-save")),
		); err != nil {
			t.Fatal(err)
		}
		waitText(row, "https://example.com/managed/second")
		res, err := tryDoKey("GET", s.Traefik.URL()+"/api/links/"+alias, key, "")
		if err != nil || res.Body["original_url"] != "https://example.com/managed/second" || res.Body["max_visits"] != nil ||
			res.Body["forward_query"] != true || res.Body["title"] != "Managed link" {
			t.Errorf("after the edit the API says %v %s, want the new URL, no visit limit, the title kept and queries forwarded", err, res.Raw)
		}
	})
	t.Run("OnTheOtherDomain", func(t *testing.T) { // the stack serves 127.0.0.1 and localhost
		other := alias + "-l"
		otherRow := `#links tr[data-code="` + other + `"][data-domain="localhost"]`
		if err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.ID("c-domain")),
			chromedp.SetValue(chromedp.ID("c-domain"), "localhost"),
			chromedp.SendKeys(chromedp.ID("c-url"), "https://example.com/managed/localhost"),
			chromedp.SendKeys(chromedp.ID("c-alias"), other),
			chromedp.Click(chromedp.CSS(`#create button[type=submit]`)),
		); err != nil {
			t.Fatal(err)
		}
		waitText(otherRow, "localhost/"+other)
		u, _ := url.Parse(s.Traefik.URL())
		if res := testenv.Do(t, "GET", s.Traefik.URL()+"/"+other, "", "Host", "localhost:"+u.Port()); res.Status != 301 || res.Header.Get("Location") != "https://example.com/managed/localhost" {
			t.Errorf("the link made on the page for localhost = %d %s", res.Status, res.Header.Get("Location"))
		}
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`window.confirm = function () { return true; }`),
			chromedp.Click(chromedp.CSS(otherRow+` button[aria-label^="Delete"]`)),
		); err != nil {
			t.Fatal(err)
		}
		waitText("#list-status", "Deleted localhost/"+other)
		if res, err := tryDoKey("GET", s.Traefik.URL()+"/api/links/"+other+"?domain=localhost", key, ""); err != nil || res.Status != 404 {
			t.Errorf("after deleting it on the page the API answers %v %d", err, res.Status)
		}
	})
	t.Run("PhoneWidth", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
			t.Fatal(err)
		}
		saveScreenshot(t, "manage-phone.png", mustRun(t, ctx, chromedp.FullScreenshot(100)))
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1000, 800)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("DeleteAfterConfirmation", func(t *testing.T) {
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`window.confirm = function (q) { window.asked = q; return true; }`),
			chromedp.Click(chromedp.CSS(row+` button[aria-label^="Delete"]`)),
		); err != nil {
			t.Fatal(err)
		}
		waitText("#list-status", "Deleted "+alias)
		if asked := mustRun(t, ctx, chromedp.Evaluate[string](`window.asked || ''`)); !strings.Contains(asked, alias) {
			t.Errorf("the page did not ask before deleting (asked %q)", asked)
		}
		if got := do(t, "GET", s.Traefik.URL()+"/"+alias, "", "").Status; got != 404 {
			t.Errorf("the deleted link answers %d, want 404", got)
		}
	})
}
