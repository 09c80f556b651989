package e2e_test

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

// The stack serves two short domains, 127.0.0.1 (the default) and
// localhost, as make run does: one code holds a link on each, each host
// redirects to its own from the edge, each is counted exactly, and another
// host is refused by the edge.
func TestTwoDomainsThroughTraefik(t *testing.T) {
	s := MustStack(t)
	key := MustKey(t, s)
	base := s.Traefik.URL()
	u, _ := url.Parse(base)
	alias := fmt.Sprintf("d%06d", time.Now().UnixNano()%1_000_000) // 7 characters: the edge serves it on the default domain
	for _, body := range []string{
		`{"url":"https://example.com/domains/default","alias":"` + alias + `"}`,
		`{"url":"https://example.com/domains/localhost","alias":"` + alias + `","domain":"localhost"}`,
	} {
		if res, err := tryDoKey("POST", base+"/api/shorten", key, body); err != nil || res.Status != 201 {
			t.Fatalf("create %s = %v %d %s", body, err, res.Status, res.Raw)
		}
	}
	visit := func(host string, n int, want string) {
		t.Helper()
		for i := 0; i < n; i++ {
			res := testenv.Do(t, "GET", base+"/"+alias, "", "Host", host)
			if res.Status != 301 || res.Header.Get("Location") != want {
				t.Fatalf("%s/%s = %d %q, want 301 to %s", host, alias, res.Status, res.Header.Get("Location"), want)
			}
		}
	}
	before := backendRedirects(t, s)
	visit(u.Host, 5, "https://example.com/domains/default")
	visit("localhost:"+u.Port(), 3, "https://example.com/domains/localhost")
	if n := backendRedirects(t, s) - before; n != 0 {
		t.Errorf("%d redirects reached a backend, want 0: the edge serves both domains' links (cached at create)", n)
	}
	if res := testenv.Do(t, "GET", base+"/"+alias, "", "Host", "evil.example"); res.Status != 404 {
		t.Errorf("a host that is not ours = %d, want 404 from the edge", res.Status)
	}
	t.Run("StormOnTheOtherDomain", func(t *testing.T) { // answered without Postgres, as on the default domain
		r := rand.New(rand.NewPCG(5, 6))
		paths := randomCodes(r, 1000)
		for len(paths) < 1500 {
			if n := link.AliasMinLength + r.IntN(10); n != link.CodeLength {
				b := make([]byte, n)
				for j := range b {
					b[j] = link.Alphabet[r.IntN(len(link.Alphabet))]
				}
				paths = append(paths, string(b))
			}
		}
		fresh := fmt.Sprintf("e%06d", time.Now().UnixNano()%1_000_000) // a 7-character alias made just before
		if res, err := tryDoKey("POST", base+"/api/shorten", key, `{"url":"https://example.com/domains/fresh","alias":"`+fresh+`","domain":"localhost"}`); err != nil || res.Status != 201 {
			t.Fatalf("create %s = %v %d %s", fresh, err, res.Status, res.Raw)
		}
		before := postgresLookups(t, s)
		notFound := 0
		for _, p := range paths {
			if testenv.Do(t, "GET", base+"/"+p, "", "Host", "localhost:"+u.Port()).Status == 404 {
				notFound++
			}
		}
		lookups := postgresLookups(t, s) - before
		if notFound != len(paths) || lookups > len(paths)/1000 {
			t.Errorf("%d of %d answered 404 with %d Postgres lookups; want all, at most %d", notFound, len(paths), lookups, len(paths)/1000)
		}
		for code, want := range map[string]string{alias: "https://example.com/domains/localhost", fresh: "https://example.com/domains/fresh"} {
			if res := testenv.Do(t, "GET", base+"/"+code, "", "Host", "localhost:"+u.Port()); res.Header.Get("Location") != want {
				t.Errorf("localhost/%s = %d %q, want %s", code, res.Status, res.Header.Get("Location"), want)
			}
		}
	})
	for _, tc := range []struct {
		query string
		want  float64
	}{{"", 5}, {"?domain=localhost", 4}} {
		eventually(t, 10*time.Second, func() error {
			res, err := tryDoKey("GET", base+"/api/links/"+alias+tc.query, key, "")
			if err != nil || res.Body["access_count"] != tc.want {
				return fmt.Errorf("%s%s access_count = %v (%v), want %v", alias, tc.query, res.Body["access_count"], err, tc.want)
			}
			return nil
		})
	}
}
