package plugin

import (
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kurzlink/kurz/link"
)

const testCodeSecret = "a code secret the tests share with their fake backend"

// mustCodec returns the codec of testCodeSecret.
func mustCodec(tb testing.TB) *link.Codec {
	tb.Helper()
	c, err := link.NewCodec(testCodeSecret)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// mustEncode returns the generated code of id.
func mustEncode(tb testing.TB, c *link.Codec, id int64) string {
	tb.Helper()
	code, err := c.Encode(id)
	if err != nil {
		tb.Fatal(err)
	}
	return code
}

// randomCode is a code-shaped path of r's choosing.
func randomCode(r *rand.Rand) string {
	b := make([]byte, link.CodeLength)
	for i := 0; i < len(b); i++ {
		b[i] = link.Alphabet[r.Intn(len(link.Alphabet))]
	}
	return string(b)
}

// mustAnswerNotFound waits until the edge answers 404 for code itself (after
// its subscription's grace), failing after a few seconds.
func mustAnswerNotFound(tb testing.TB, h http.Handler, code string) {
	tb.Helper()
	deadline := time.Now().Add(resubscribeGrace + 3*time.Second)
	for serve(h, "GET", "/"+code).Code != http.StatusNotFound {
		if time.Now().After(deadline) {
			tb.Fatalf("GET /%s never answered 404 at the edge", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func codeSpaceConfig(addr, ttl string) *Config {
	cfg := testConfig(addr, ttl)
	cfg.CodeSecret = testCodeSecret
	return cfg
}

func TestUnknownCodesAnsweredAtTheEdge(t *testing.T) {
	r := mustStartRedis(t)
	codec := mustCodec(t)
	const issued = 1000
	mustDo(t, r.addr, "SET", link.CodesIssuedKey, link.FormatIssued(codec.Fingerprint(), issued))
	mustDo(t, r.addr, "SADD", link.CodesAliasesKey, "myAlias")
	existing := mustEncode(t, codec, 5)
	mustDo(t, r.addr, "SET", "code:"+existing, "https://example.com/existing")
	h, next := mustNewConnected(t, codeSpaceConfig(r.addr, "40s"))
	unknown := mustEncode(t, codec, issued+link.IssuedWindow+1)
	mustAnswerNotFound(t, h, unknown)

	t.Run("OKExisting", func(t *testing.T) {
		if got, want := serve(h, "GET", "/"+existing).Code, http.StatusMovedPermanently; got != want {
			t.Errorf("GET existing = %d, want %d", got, want)
		}
	})
	t.Run("RandomCodes", func(t *testing.T) {
		rnd := rand.New(rand.NewSource(1))
		const n = 5000
		before := next.called
		for i := 0; i < n; i++ {
			serve(h, "GET", "/"+randomCode(rnd))
		}
		// Odds of a random code inside the window: about 2^20 / 2^42.
		if passed := next.called - before; passed > n/1000 {
			t.Errorf("%d of %d random codes passed on, want at most %d", passed, n, n/1000)
		}
	})
	t.Run("PassedOn", func(t *testing.T) {
		for _, tc := range []struct{ name, code string }{
			{"InsideTheWindow", mustEncode(t, codec, issued+link.IssuedWindow/2)}, // made a moment ago elsewhere
			{"ListedAlias", "myAlias"},
		} {
			if got, want := serve(h, "GET", "/"+tc.code).Code, http.StatusTeapot; got != want {
				t.Errorf("%s: GET /%s = %d, want %d (passed on)", tc.name, tc.code, got, want)
			}
		}
	})
	t.Run("AnnouncedAlias", func(t *testing.T) {
		alias := "nEwAlia"
		if got := serve(h, "GET", "/"+alias).Code; got != http.StatusNotFound {
			t.Fatalf("GET /%s before its announcement = %d, want 404", alias, got)
		}
		mustDo(t, r.addr, "SADD", link.CodesAliasesKey, alias)
		mustDo(t, r.addr, "PUBLISH", link.InvalidateChannel, alias)
		deadline := time.Now().Add(2 * time.Second)
		for serve(h, "GET", "/"+alias).Code != http.StatusTeapot {
			if time.Now().After(deadline) {
				t.Fatalf("GET /%s after its announcement never passed on", alias)
			}
			time.Sleep(time.Millisecond)
		}
	})
	t.Run("Body", func(t *testing.T) {
		for _, tc := range []struct{ name, method, accept, contentType, body string }{
			{"JSON", "GET", "", "application/json", link.NotFoundJSON},
			{"Page", "GET", "text/html,application/xhtml+xml,*/*;q=0.8", "text/html; charset=utf-8", link.NotFoundPage(unknown)},
			{"Head", "HEAD", "", "application/json", ""},
		} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, "/"+unknown, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != tc.contentType || rec.Body.String() != tc.body {
				t.Errorf("%s: %d %q %q, want 404 %q %q", tc.name, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), tc.contentType, tc.body)
			}
		}
	})
}

// With the default domain's redirect of unknown codes in Redis, the edge
// sends them there instead of answering 404, and back to 404 once it is gone.
func TestUnknownCodesRedirectedAtTheEdge(t *testing.T) {
	r := mustStartRedis(t)
	codec := mustCodec(t)
	mustDo(t, r.addr, "SET", link.CodesIssuedKey, link.FormatIssued(codec.Fingerprint(), 1000))
	h, next := mustNewConnected(t, codeSpaceConfig(r.addr, "48s"))
	unknown := mustEncode(t, codec, 1000+link.IssuedWindow+1)
	mustAnswerNotFound(t, h, unknown)
	before := next.called
	waitFor := func(status int, location string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			rec := serve(h, "GET", "/"+unknown)
			if rec.Code == status && rec.Header().Get("Location") == location {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET /%s = %d %q, want %d %q", unknown, rec.Code, rec.Header().Get("Location"), status, location)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	mustDo(t, r.addr, "SET", link.NotFoundRedirectKey, "https://example.com/missing")
	waitFor(http.StatusFound, "https://example.com/missing")
	mustDo(t, r.addr, "SET", link.NotFoundRedirectKey, "javascript:alert(1)") // unsafe: refused, 404 again
	waitFor(http.StatusNotFound, "")
	mustDo(t, r.addr, "SET", link.NotFoundRedirectKey, "https://example.com/missing")
	waitFor(http.StatusFound, "https://example.com/missing")
	mustDo(t, r.addr, "DEL", link.NotFoundRedirectKey)
	waitFor(http.StatusNotFound, "")
	if passed := next.called - before; passed != 0 {
		t.Errorf("%d unknown codes passed on, want 0: the edge answers them itself", passed)
	}
}

// Without a complete, fresh view the edge answers no 404 itself: every code
// goes on to Redis and the backends, as without a code secret.
func TestUnknownCodesPassedOnWithoutAFreshView(t *testing.T) {
	codec := mustCodec(t)
	unknown := mustEncode(t, codec, 1<<41)
	t.Run("AnotherSecret", func(t *testing.T) {
		r := mustStartRedis(t)
		other, _ := link.NewCodec("the backends' other secret")
		mustDo(t, r.addr, "SET", link.CodesIssuedKey, link.FormatIssued(other.Fingerprint(), 10))
		h, next := mustNewConnected(t, codeSpaceConfig(r.addr, "41s"))
		time.Sleep(resubscribeGrace + 300*time.Millisecond)
		if got := serve(h, "GET", "/"+unknown).Code; got != http.StatusTeapot || next.called != 1 {
			t.Errorf("GET = %d, passed on %d times; want 418 and 1", got, next.called)
		}
	})
	t.Run("IssuedMissing", func(t *testing.T) {
		r := mustStartRedis(t)
		h, _ := mustNewConnected(t, codeSpaceConfig(r.addr, "42s"))
		time.Sleep(resubscribeGrace + 300*time.Millisecond)
		if got := serve(h, "GET", "/"+unknown).Code; got != http.StatusTeapot {
			t.Errorf("GET = %d, want 418 (passed on)", got)
		}
		t.Run("Malformed", func(t *testing.T) {
			mustDo(t, r.addr, "SET", link.CodesIssuedKey, "garbage")
			time.Sleep(3 * issuedPoll)
			if got := serve(h, "GET", "/"+unknown).Code; got != http.StatusTeapot {
				t.Errorf("GET = %d, want 418 (passed on)", got)
			}
		})
	})
	t.Run("RedisStalled", func(t *testing.T) {
		r := mustStartRedis(t)
		mustDo(t, r.addr, "SET", link.CodesIssuedKey, link.FormatIssued(codec.Fingerprint(), 10))
		h, _ := mustNewConnected(t, codeSpaceConfig(r.addr, "43s"))
		mustAnswerNotFound(t, h, unknown)
		mustDo(t, r.addr, "CLIENT", "PAUSE", "1500", "ALL")
		time.Sleep(link.IssuedFreshFor + 50*time.Millisecond)
		// A create answered meanwhile could not be announced: no 404 now.
		if got := serve(h, "GET", "/"+unknown).Code; got == http.StatusNotFound {
			t.Errorf("GET during a stall longer than the view's freshness = 404, want passed on")
		}
	})
	t.Run("AliasesLostWithRedis", func(t *testing.T) {
		r := mustStartRedis(t)
		mustDo(t, r.addr, "SET", link.CodesIssuedKey, link.FormatIssued(codec.Fingerprint(), 10))
		h, _ := mustNewConnected(t, codeSpaceConfig(r.addr, "44s"))
		mustAnswerNotFound(t, h, unknown)
		mustDo(t, r.addr, "FLUSHALL")
		time.Sleep(3 * issuedPoll)
		if got := serve(h, "GET", "/"+unknown).Code; got == http.StatusNotFound {
			t.Errorf("GET after Redis lost codes:issued = 404, want passed on")
		}
	})
}

// Aliases of many SSCAN pages are all loaded.
func TestManyAliasesAreLoaded(t *testing.T) {
	r := mustStartRedis(t)
	codec := mustCodec(t)
	mustDo(t, r.addr, "SET", link.CodesIssuedKey, link.FormatIssued(codec.Fingerprint(), 10))
	rnd := rand.New(rand.NewSource(2))
	aliases := make([]string, 0, 3000)
	for len(aliases) < cap(aliases) {
		aliases = append(aliases, randomCode(rnd))
	}
	mustDo(t, r.addr, append([]string{"SADD", link.CodesAliasesKey}, aliases...)...)
	h, _ := mustNewConnected(t, codeSpaceConfig(r.addr, "45s"))
	mustAnswerNotFound(t, h, mustEncode(t, codec, 1<<41))
	var notFound []string
	for _, a := range aliases {
		if serve(h, "GET", "/"+a).Code == http.StatusNotFound {
			notFound = append(notFound, a)
		}
	}
	if len(notFound) > 0 {
		t.Errorf("%d listed aliases answered 404, e.g. %s", len(notFound), strings.Join(notFound[:1], ""))
	}
}

// absent's inlined decoding agrees with link.Codec on every id it meets.
func TestAbsentDecodesAsTheCodec(t *testing.T) {
	codec := mustCodec(t)
	s := newCodeSpace(codec)
	const limit = 1 << 30
	s.limit, s.loaded, s.subscribed = limit, true, true
	s.freshUntil, s.graceUntil = time.Now().Add(time.Hour), time.Now().Add(-time.Hour)
	rnd := rand.New(rand.NewSource(3))
	for i := 0; i < 2000; i++ {
		id := 1 + rnd.Int63n(1<<42-1)
		if i%2 == 0 {
			id = 1 + rnd.Int63n(limit)
		}
		code := mustEncode(t, codec, id)
		if got, _ := s.absent(code); got != (id > limit) {
			t.Fatalf("absent(%q) for id %d = %v, want %v", code, id, got, id > limit)
		}
	}
	t.Run("ErrNotACode", func(t *testing.T) {
		for _, code := range []string{"abc.efg", "abc\ndef", "abcdef=", "abcdefgh", "abcdef"} {
			if absent, _ := s.absent(code); absent {
				t.Errorf("absent(%q) = true, want false", code)
			}
		}
	})
}
