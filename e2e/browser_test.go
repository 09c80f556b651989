package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/internal/testenv"
)

// MustBrowser starts a headless Chromium with a fresh profile and no network chatter.
func MustBrowser(tb testing.TB) context.Context {
	tb.Helper()
	chrome, err := stack.LookPath("KURZ_CHROMIUM", "chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
	testenv.Need(tb, "chromium (apt-get install chromium)", err)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1000, 800),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	tb.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

func saveScreenshot(tb testing.TB, name string, png []byte) {
	tb.Helper()
	dir := filepath.Join(testenv.Root(), "out", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		os.WriteFile(filepath.Join(dir, name), png, 0o644)
	}
}

func TestBrowserShortensAndOpensALink(t *testing.T) {
	s := MustStack(t)
	ctx := MustBrowser(t)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>Landing page</title><h1>You have arrived</h1>")
	}))
	defer target.Close()
	home := s.Traefik.URL() + "/"
	long := target.URL + "/landing/" + fmt.Sprint(time.Now().UnixNano())

	if err := chromedp.Do(ctx,
		chromedp.Navigate(home),
		chromedp.WaitVisible(chromedp.ID("url")),
		chromedp.SendKeys(chromedp.ID("url"), long),
		chromedp.Click(chromedp.ID("shorten")),
		chromedp.WaitVisible(chromedp.ID("short-url")),
	); err != nil {
		t.Fatalf("shortening in the browser: %v", err)
	}
	shortURL := mustRun(t, ctx, chromedp.Text(chromedp.ID("short-url")))
	qrSrc := mustRun(t, ctx, chromedp.AttributeValue(chromedp.ID("qr"), "src"))
	saveScreenshot(t, "shortened.png", mustRun(t, ctx, chromedp.FullScreenshot(100)))
	if !strings.HasPrefix(shortURL, s.Traefik.URL()+"/") {
		t.Fatalf("short URL on the page = %q", shortURL)
	}
	if !strings.HasSuffix(qrSrc.Value, "/qr") {
		t.Errorf("QR image src = %q", qrSrc.Value)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(shortURL), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatalf("opening the short URL: %v", err)
	}
	landed := mustRun(t, ctx, chromedp.Location())
	heading := mustRun(t, ctx, chromedp.Text(chromedp.CSS("h1")))
	if landed != long || heading != "You have arrived" {
		t.Errorf("browser landed on %q (%q), want %q", landed, heading, long)
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(home),
		chromedp.WaitVisible(chromedp.ID("url")),
		chromedp.SendKeys(chromedp.ID("url"), "javascript:alert(1)"),
		chromedp.Click(chromedp.ID("shorten")),
	); err != nil {
		t.Fatalf("submitting javascript: %v", err)
	}
	mustRun(t, ctx, chromedp.Poll[bool](`document.getElementById('url-error').textContent.length > 0`))
	message := mustRun(t, ctx, chromedp.Text(chromedp.ID("url-error")))
	saveScreenshot(t, "error.png", mustRun(t, ctx, chromedp.FullScreenshot(100)))
	if !strings.Contains(message, "http") {
		t.Errorf("error next to the field = %q, want it to explain that only http(s) links work", message)
	}

	// A link typed without its scheme: the page offers the https one.
	bare := "example.com/typed-" + fmt.Sprint(time.Now().UnixNano())
	if err := chromedp.Do(ctx,
		chromedp.Navigate(home),
		chromedp.WaitVisible(chromedp.ID("url")),
		chromedp.SendKeys(chromedp.ID("url"), bare),
		chromedp.Click(chromedp.ID("shorten")),
		chromedp.WaitVisible(chromedp.CSS("#suggestion button")),
	); err != nil {
		t.Fatalf("the page did not offer the https link for %s: %v", bare, err)
	}
	saveScreenshot(t, "suggestion.png", mustRun(t, ctx, chromedp.FullScreenshot(100)))
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#suggestion button")),
		chromedp.WaitVisible(chromedp.ID("short-url")),
	); err != nil {
		t.Fatalf("taking the offer: %v", err)
	}
	if got := mustRun(t, ctx, chromedp.Text(chromedp.ID("original-url"))); got != "https://"+bare {
		t.Errorf("shortened %q, want the offered https://%s", got, bare)
	}
}

// watchCSP records every Content-Security-Policy violation of the pages
// loaded after it in window.cspViolations.
var watchCSP = chromedp.Action[chromedp.Void](func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
	_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.cspViolations = [];
			document.addEventListener('securitypolicyviolation', function (e) { window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI); });`,
	})
	return chromedp.Void{}, err
})

// mustFitAPhone screenshots the page as it is and at phone width (name-desktop.png,
// name-phone.png), where it must not scroll sideways, and wants no CSP
// violation since watchCSP.
func mustFitAPhone(tb testing.TB, ctx context.Context, name string) {
	tb.Helper()
	saveScreenshot(tb, name+"-desktop.png", mustRun(tb, ctx, chromedp.FullScreenshot(100)))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		tb.Fatal(err)
	}
	if wide := mustRun(tb, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); wide {
		tb.Errorf("the %s page scrolls sideways at phone width", name)
	}
	saveScreenshot(tb, name+"-phone.png", mustRun(tb, ctx, chromedp.FullScreenshot(100)))
	if v := mustRun(tb, ctx, chromedp.Evaluate[[]string](`window.cspViolations`)); len(v) != 0 {
		tb.Errorf("Content-Security-Policy violations: %v", v)
	}
}

func mustRun[T any](tb testing.TB, ctx context.Context, a chromedp.Action[T]) T {
	tb.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// mustShowText waits up to 15 s until the element sel shows want.
func mustShowText(tb testing.TB, ctx context.Context, sel, want string) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err == nil && strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s shows %q, want it to contain %q", sel, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
