package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/internal/testenv"
)

// invalidationBound is how long the edge may serve a link after a PATCH or
// DELETE was answered: the invalidation is published at once (generous for CI).
// edgeBound is the fallback without pub/sub, and the bound for expiry: the
// hot-cache TTL (5 s) plus one sweep tick (1.25 s), with a little margin.
const (
	invalidationBound = 2 * time.Second
	edgeBound         = 7 * time.Second
)

// MustKey creates an admin API key with the backend's command line.
func MustKey(tb testing.TB, s *stack.Stack) string {
	tb.Helper()
	return MustRoleKey(tb, s, "admin")
}

// waitUntil polls the redirect of code until it shows want, and returns how long that took.
func waitUntil(tb testing.TB, s *stack.Stack, code string, want func(response) bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for {
		r := do(tb, "GET", s.Traefik.URL()+"/"+code, "", "")
		if want(r) {
			return time.Since(start)
		}
		if time.Since(start) > 2*edgeBound {
			tb.Fatalf("after %s the edge still answers %d %s", time.Since(start), r.Status, r.Header.Get("Location"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEdgeConsistency(t *testing.T) {
	s := MustStack(t)
	key := MustKey(t, s)
	manage := func(method, code, body string) response {
		t.Helper()
		req := s.Traefik.URL() + "/api/links/" + code
		res, err := tryDoKey(method, req, key, body)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	warm := func(code string) {
		for i := 0; i < 3; i++ { // into Redis and the plugin's hot cache
			do(t, "GET", s.Traefik.URL()+"/"+code, "", "")
		}
	}

	t.Run("PatchedTargetWithinBound", func(t *testing.T) {
		code := MustShorten(t, s, "https://example.com/consistency/old")
		warm(code)
		if res := manage("PATCH", code, `{"url":"https://example.com/consistency/new"}`); res.Status != 200 {
			t.Fatalf("patch = %d %s", res.Status, res.Raw)
		}
		took := waitUntil(t, s, code, func(r response) bool { return r.Header.Get("Location") == "https://example.com/consistency/new" })
		t.Logf("the edge served the new target after %s", took)
		if took > invalidationBound {
			t.Errorf("old target served for %s, bound %s", took, invalidationBound)
		}
		for i := 0; i < 20; i++ {
			if loc := do(t, "GET", s.Traefik.URL()+"/"+code, "", "").Header.Get("Location"); loc != "https://example.com/consistency/new" {
				t.Fatalf("old target again: %q", loc)
			}
		}
	})
	t.Run("DeletedWithinBound", func(t *testing.T) {
		code := MustShorten(t, s, "https://example.com/consistency/deleted")
		warm(code)
		if res := manage("DELETE", code, ""); res.Status != 204 {
			t.Fatalf("delete = %d %s", res.Status, res.Raw)
		}
		took := waitUntil(t, s, code, func(r response) bool { return r.Status == 404 })
		t.Logf("the edge stopped redirecting after %s", took)
		if took > invalidationBound {
			t.Errorf("deleted link served for %s, bound %s", took, invalidationBound)
		}
	})
	t.Run("ExpiryHonouredAtTheEdge", func(t *testing.T) {
		expires := time.Now().Add(2 * time.Second)
		res := do(t, "POST", s.Traefik.URL()+"/api/shorten", "application/json",
			fmt.Sprintf(`{"url":"https://example.com/consistency/expiring","expires_at":%q}`, expires.UTC().Format(time.RFC3339Nano)))
		code, _ := res.Body["short_code"].(string)
		warm(code)
		if r := do(t, "GET", s.Traefik.URL()+"/"+code, "", ""); r.Status != 301 {
			t.Fatalf("before expiry = %d", r.Status)
		}
		waitUntil(t, s, code, func(r response) bool { return r.Status == 410 })
		if late := time.Since(expires); late > edgeBound {
			t.Errorf("expired link served %s after its expiry, bound %s", late, edgeBound)
		}
	})
	t.Run("VisitLimitNeverAtTheEdge", func(t *testing.T) {
		res := do(t, "POST", s.Traefik.URL()+"/api/shorten", "application/json", `{"url":"https://example.com/consistency/limited","max_visits":2}`)
		code, _ := res.Body["short_code"].(string)
		got := []int{}
		for i := 0; i < 5; i++ {
			got = append(got, do(t, "GET", s.Traefik.URL()+"/"+code, "", "").Status)
		}
		if fmt.Sprint(got) != "[301 301 410 410 410]" {
			t.Errorf("5 visits of a 2-visit link through Traefik = %v", got)
		}
	})
}

// Through Traefik, with Redis paused while a PATCH and a DELETE are answered:
// both Traefik's edge and the backends stop serving the old target, and the
// deleted link's URL gets a new code, within 1 s of Redis answering again.
func TestChangesDuringARedisStallThroughTraefik(t *testing.T) {
	s := testenv.NewStack(t, nil)
	key := MustKey(t, s)
	rc := MustRedis(t, s)
	const pause = 600 * time.Millisecond
	stall := func() time.Time {
		if err := rc.Do(bg, "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
			t.Fatal(err)
		}
		return time.Now().Add(pause)
	}
	within := func(resumed time.Time, what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if time.Since(resumed) > time.Second {
				t.Fatalf("%s: not within 1 s of Redis answering again", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Run("Patch", func(t *testing.T) {
		code := MustShorten(t, s, "https://example.com/e2e/stall/old")
		MustVisit(t, s, code, 3) // hot at the edge
		resumed := stall()
		if res, err := tryDoKey("PATCH", s.Traefik.URL()+"/api/links/"+code, key, `{"url":"https://example.com/e2e/stall/new"}`); err != nil || res.Status != 200 {
			t.Fatalf("PATCH = %v %d %s", err, res.Status, res.Raw)
		}
		time.Sleep(time.Until(resumed))
		within(resumed, "the edge's new target", func() bool {
			return do(t, "GET", s.Traefik.URL()+"/"+code, "", "").Header.Get("Location") == "https://example.com/e2e/stall/new"
		})
		for _, b := range s.Backends {
			if got := do(t, "GET", b.URL()+"/"+code, "", "").Header.Get("Location"); got != "https://example.com/e2e/stall/new" {
				t.Errorf("backend %s serves %q", b.URL(), got)
			}
		}
	})
	t.Run("Delete", func(t *testing.T) {
		const target = "https://example.com/e2e/stall/deleted"
		code := MustShorten(t, s, target)
		MustVisit(t, s, code, 3)
		resumed := stall()
		if res, err := tryDoKey("DELETE", s.Traefik.URL()+"/api/links/"+code, key, ""); err != nil || res.Status != 204 {
			t.Fatalf("DELETE = %v %d %s", err, res.Status, res.Raw)
		}
		time.Sleep(time.Until(resumed))
		within(resumed, "the deleted link gone at the edge", func() bool {
			return do(t, "GET", s.Traefik.URL()+"/"+code, "", "").Status == 404
		})
		if again := MustShorten(t, s, target); again == code {
			t.Errorf("posting the deleted URL gave the deleted code again")
		}
	})
}

// A link switched off stops redirecting at the edge within the invalidation bound.
func TestDisabledLinkAtTheEdge(t *testing.T) {
	s := MustStack(t)
	key := MustKey(t, s)
	code := MustShorten(t, s, "https://example.com/e2e/disabled")
	MustVisit(t, s, code, 3) // hot at the edge
	if res, err := tryDoKey("PATCH", s.Traefik.URL()+"/api/links/"+code, key, `{"disabled":true}`); err != nil || res.Status != 200 {
		t.Fatalf("PATCH = %v %d %s", err, res.Status, res.Raw)
	}
	took := waitUntil(t, s, code, func(r response) bool { return r.Status == 410 })
	if took > invalidationBound {
		t.Errorf("the disabled link redirected for %s, bound %s", took, invalidationBound)
	}
	for i := 0; i < 10; i++ {
		if got := do(t, "GET", s.Traefik.URL()+"/"+code, "", "").Status; got != 410 {
			t.Fatalf("a disabled link answered %d at the edge", got)
		}
	}
}

// A domain added to the blocklist file stops redirecting at the edge too.
func TestBlockedDomainAtTheEdge(t *testing.T) {
	file := filepath.Join(t.TempDir(), "blocklist.txt")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := testenv.NewStack(t, map[string]string{"KURZ_BLOCKLIST": file})
	code := MustShorten(t, s, "https://phish.example/login")
	MustVisit(t, s, code, 3) // hot at the edge
	if err := os.WriteFile(file, []byte("phish.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	took := waitUntil(t, s, code, func(r response) bool { return r.Status == 410 })
	t.Logf("410 at the edge %s after the file changed", took)
	if took > invalidationBound {
		t.Errorf("a blocked link redirected for %s, bound %s", took, invalidationBound)
	}
	// Each replica reads the file every 250 ms: within a second all refuse
	// (three in a row through the round-robin), and links made meanwhile
	// were taken out again by the reload of the replica that made them.
	changed := time.Now()
	var made []string
	for refused := 0; refused < 3; {
		res := shorten(t, s, fmt.Sprintf("https://www.phish.example/other/%d", len(made)))
		switch {
		case res.Status == 422 && errorCode(res) == "blocked_domain":
			refused++
		case res.Status == 201:
			refused = 0
			made = append(made, res.Body["short_code"].(string))
		case res.Status == 429: // Traefik's rate limit on creation, not an answer about the domain
		default:
			t.Fatalf("create on a blocked domain = %d %s", res.Status, res.Raw)
		}
		if time.Since(changed) > time.Second {
			t.Fatalf("creation on a blocked domain still accepted 1 s after the file changed")
		}
		time.Sleep(25 * time.Millisecond) // under the rate limit of 100 creations a second
	}
	for _, code := range made {
		waitUntil(t, s, code, func(r response) bool { return r.Status == 410 })
	}
}
