package e2e_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

// randomCodes are n code-shaped paths of r's choosing.
func randomCodes(r *rand.Rand, n int) []string {
	codes := make([]string, n)
	for i := range codes {
		b := make([]byte, link.CodeLength)
		for j := range b {
			b[j] = link.Alphabet[r.IntN(len(link.Alphabet))]
		}
		codes[i] = string(b)
	}
	return codes
}

// waitEdgeAnswersUnknown waits until the edge answers unknown codes itself
// (its view is complete some moments after Traefik starts).
func waitEdgeAnswersUnknown(tb testing.TB, s *stack.Stack, base string) {
	tb.Helper()
	probe := randomCodes(rand.New(rand.NewPCG(7, 7)), 20)
	testenv.Eventually(tb, 10*time.Second, func() error {
		before := backendRedirects(tb, s)
		for _, code := range probe {
			do(tb, "GET", base+"/"+code, "", "")
		}
		if passed := backendRedirects(tb, s) - before; passed > 0 {
			return fmt.Errorf("%d of %d unknown codes reached a backend", passed, len(probe))
		}
		return nil
	})
}

// Code-shaped paths that no link can have are answered at the edge: a storm
// of them reaches no backend (so no Postgres), while existing links redirect.
func TestUnknownCodesAnsweredAtTheEdge(t *testing.T) {
	s := MustStack(t)
	existing := MustShorten(t, s, "https://example.com/e2e/unknown-codes")
	waitEdgeAnswersUnknown(t, s, s.Traefik.URL())

	t.Run("Storm", func(t *testing.T) {
		codes := randomCodes(rand.New(rand.NewPCG(1, 2)), 3000)
		before := backendRedirects(t, s)
		notFound := 0
		for _, code := range codes {
			if do(t, "GET", s.Traefik.URL()+"/"+code, "", "").Status == http.StatusNotFound {
				notFound++
			}
		}
		passed := backendRedirects(t, s) - before
		t.Logf("%d of %d random codes answered 404, %d reached a backend", notFound, len(codes), passed)
		if notFound != len(codes) || passed > len(codes)/1000 {
			t.Errorf("%d of %d answered 404, %d reached a backend; want all, at most %d", notFound, len(codes), passed, len(codes)/1000)
		}
		MustVisitOn(t, s.Traefik, existing, 1)
	})
	t.Run("StormOfOtherLengths", func(t *testing.T) {
		key := MustKey(t, s)
		short, long := createAlias(t, s, key, "x"+suffix(4)), createAlias(t, s, key, "long-alias-"+suffix(6))
		r := rand.New(rand.NewPCG(3, 4))
		var paths []string
		for len(paths) < 2000 { // alias-shaped, never code-shaped: what the edge cannot tell
			if n := link.AliasMinLength + r.IntN(10); n != link.CodeLength {
				b := make([]byte, n)
				for j := range b {
					b[j] = link.Alphabet[r.IntN(len(link.Alphabet))]
				}
				paths = append(paths, string(b))
			}
		}
		before := postgresLookups(t, s)
		notFound := 0
		for _, p := range paths {
			if do(t, "GET", s.Traefik.URL()+"/"+p, "", "").Status == http.StatusNotFound {
				notFound++
			}
		}
		lookups := postgresLookups(t, s) - before
		t.Logf("%d of %d paths answered 404, %d Postgres lookups", notFound, len(paths), lookups)
		if notFound != len(paths) || lookups > len(paths)/1000 {
			t.Errorf("%d of %d answered 404 with %d Postgres lookups; want all, at most %d", notFound, len(paths), lookups, len(paths)/1000)
		}
		for _, alias := range []string{short, long, createAlias(t, s, key, "fresh-"+suffix(5))} {
			if got := do(t, "GET", s.Traefik.URL()+"/"+alias, "", "").Status; got != http.StatusMovedPermanently {
				t.Errorf("GET /%s = %d, want 301", alias, got)
			}
		}
	})
	t.Run("LooksLikeTheBackends", func(t *testing.T) {
		unknown, _ := testenv.MustCodec(t, s.Secret).Encode(1<<42 - 5)
		for _, accept := range []string{"", "application/json", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"} {
			before := backendRedirects(t, s)
			edge := testenv.Do(t, "GET", s.Traefik.URL()+"/"+unknown, "", "Accept", accept)
			if backendRedirects(t, s) != before {
				t.Fatalf("Accept %q: the 404 came from a backend, want the edge", accept)
			}
			backend := testenv.Do(t, "GET", s.Backends[0].URL()+"/"+unknown, "", "Accept", accept)
			for _, h := range []string{"Content-Type", "Content-Security-Policy", "X-Content-Type-Options"} {
				if edge.Header.Get(h) != backend.Header.Get(h) {
					t.Errorf("Accept %q: %s = %q at the edge, %q at a backend", accept, h, edge.Header.Get(h), backend.Header.Get(h))
				}
			}
			if edge.Status != http.StatusNotFound || backend.Status != http.StatusNotFound || string(edge.Raw) != string(backend.Raw) {
				t.Errorf("Accept %q: edge %d %q, backend %d %q; want the same 404", accept, edge.Status, edge.Raw, backend.Status, backend.Raw)
			}
		}
	})
	t.Run("NewLinksAtOnce", func(t *testing.T) {
		key := MustKey(t, s)
		for i := 0; i < 20; i++ {
			plain := MustShorten(t, s, fmt.Sprintf("https://example.com/e2e/fresh/%d/%d", time.Now().UnixNano(), i))
			MustVisitOn(t, s.Traefik, plain, 1)
			alias := fmt.Sprintf("f%06d", (time.Now().UnixNano()/1000+int64(i))%1_000_000)
			res, err := tryDoKey("POST", s.Traefik.URL()+"/api/shorten", key, `{"url":"https://example.com/e2e/fresh-alias","alias":"`+alias+`"}`)
			if err != nil || res.Status != http.StatusCreated {
				t.Fatalf("creating alias %s: %v %d %s", alias, err, res.Status, res.Raw)
			}
			if got := do(t, "GET", s.Traefik.URL()+"/"+alias, "", "").Status; got != http.StatusMovedPermanently {
				t.Fatalf("GET /%s right after its create = %d, want 301", alias, got)
			}
			time.Sleep(25 * time.Millisecond) // under the API's rate limit
		}
	})
	t.Run("DeletedAndExpiredAsBefore", func(t *testing.T) {
		key := MustKey(t, s)
		code := MustShorten(t, s, fmt.Sprintf("https://example.com/e2e/to-delete/%d", time.Now().UnixNano()))
		MustVisitOn(t, s.Traefik, code, 1)
		if res, err := tryDoKey("DELETE", s.Traefik.URL()+"/api/links/"+code, key, ""); err != nil || res.Status != http.StatusNoContent {
			t.Fatalf("DELETE = %v %d", err, res.Status)
		}
		before := backendRedirects(t, s)
		if got := do(t, "GET", s.Traefik.URL()+"/"+code, "", "").Status; got != http.StatusNotFound {
			t.Errorf("GET deleted = %d, want 404", got)
		}
		if backendRedirects(t, s) == before {
			t.Errorf("the deleted code was answered at the edge; want the backend's answer, as before")
		}
	})
}

// createAlias makes a link with alias and returns the alias.
func createAlias(tb testing.TB, s *stack.Stack, key, alias string) string {
	tb.Helper()
	res, err := tryDoKey("POST", s.Traefik.URL()+"/api/shorten", key, `{"url":"https://example.com/e2e/alias/`+alias+`","alias":"`+alias+`"}`)
	if err != nil || res.Status != http.StatusCreated {
		tb.Fatalf("creating alias %s: %v %d %s", alias, err, res.Status, res.Raw)
	}
	return alias
}

// suffix is n characters of the alphabet that differ from run to run.
func suffix(n int) string {
	b := make([]byte, n)
	v := uint64(time.Now().UnixNano())
	for i := range b {
		b[i] = link.Alphabet[v%uint64(len(link.Alphabet))]
		v = v/uint64(len(link.Alphabet)) + uint64(i)*7919
	}
	return string(b)
}
