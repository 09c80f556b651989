package e2e_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
)

// Shlink's own SDK, the client of its web client, drives the stack through
// Traefik: every call the web client's main screens make (testdata/shlink/sdk.mjs).
func TestShlinkSDK(t *testing.T) {
	s := MustStack(t)
	out := testenv.NodeScript(t, filepath.Join("testdata", "shlink", "sdk.mjs"),
		"KURZ_URL="+s.Traefik.URL(),
		"KURZ_ADMIN_KEY="+MustKey(t, s),
		"KURZ_AUTHOR_KEY="+testenv.MustRoleKey(t, s, "author"),
		"KURZ_OTHER_KEY="+testenv.MustRoleKey(t, s, "author"),
		"RUN="+strconv.FormatInt(time.Now().UnixNano(), 36))
	t.Log(out)
	if want := "\n20 passed\n"; !strings.Contains(out, want) {
		t.Errorf("the SDK's checks did not all pass: want %q", want)
	}
}

// ShareX posts multipart to /yourls-api.php through Traefik and reads the
// body as the short URL; the short URL redirects at the edge.
func TestShareXThroughTraefik(t *testing.T) {
	s := MustStack(t)
	key := testenv.MustRoleKey(t, s, "author")
	target := "https://example.com/sharex/" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range [][2]string{{"signature", key}, {"action", "shorturl"}, {"url", target}, {"format", "simple"}} {
		mw.WriteField(f[0], f[1])
	}
	mw.Close()
	res, err := http.Post(s.Traefik.URL()+"/yourls-api.php", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	short, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(string(short), s.Traefik.URL()+"/") {
		t.Fatalf("shorturl = %d %q", res.StatusCode, short)
	}
	if got := do(t, "GET", string(short), "", ""); got.Status != 301 || got.Header.Get("Location") != target {
		t.Errorf("GET %s = %d %s, want 301 %s", short, got.Status, got.Header.Get("Location"), target)
	}
	// The Firefox add-on's settings test: action=version, no format, one line of XML it matches.
	version := do(t, "POST", s.Traefik.URL()+"/yourls-api.php", "application/x-www-form-urlencoded", "action=version")
	if !regexp.MustCompile(`^.*<version>(\d+\.\d+.*)<\/version>.*$`).MatchString(version.Raw) {
		t.Errorf("version = %d %q", version.Status, version.Raw)
	}
}
