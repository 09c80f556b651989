package e2e_test

import (
	"path/filepath"
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
