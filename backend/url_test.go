package backend_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

func TestNormalize(t *testing.T) {
	p := backend.URLPolicy{MaxLength: 100, Own: []string{"https://kurz.example", "http://localhost:8000"}}
	t.Run("OK", func(t *testing.T) {
		for _, tc := range []struct{ in, want string }{
			{"https://www.example.com/very/long/url/path", "https://www.example.com/very/long/url/path"},
			{"HTTPS://WWW.Example.COM/Path?Q=A#F", "https://www.example.com/Path?Q=A#F"},
			{"http://example.com:80/x", "http://example.com/x"},
			{"https://example.com:443", "https://example.com/"},
			{"https://example.com:8443/", "https://example.com:8443/"},
			{"http://[::1]:8080/a", "http://[::1]:8080/a"},
			{"http://127.0.0.1/a", "http://127.0.0.1/a"},
			{"https://bücher.example/", "https://xn--bcher-kva.example/"},
			{"https://example.com/a%20b", "https://example.com/a%20b"},
			{"http://kurz.example:8080/x", "http://kurz.example:8080/x"}, // another port than the shortener's
			{"http://127.0.0.1:9000/page", "http://127.0.0.1:9000/page"}, // a local service beside it
		} {
			got, err := p.Normalize(tc.in)
			if err != nil {
				t.Errorf("Normalize(%q): %v", tc.in, err)
			} else if got != tc.want {
				t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		}
	})
	t.Run("ErrInvalidURL", func(t *testing.T) {
		for _, in := range []string{
			"",
			"javascript:alert(1)",
			"data:text/html,<script>alert(1)</script>",
			"file:///etc/passwd",
			"ftp://example.com/",
			"https://bank.com@evil.example",
			"https://user:pass@example.com/",
			"example.com/path",
			"/relative",
			"https://",
			"https:///path",
			"https:example.com",
			"https://example.com/" + strings.Repeat("a", 100),
			"https://example.com/a b",
			"https://example.com/\r\nX: y",
			"https://example.com/\x00",
			"https://example.com\t/",
			"https://exa mple.com/",
			"https://example.com:99999/",
			"https://example.com:0/",
			"https://kurz.example/aB3dEfG",
			"https://KURZ.example./x",
			"https://kurz.example:443/x",
			"http://kurz.example/x", // the http form of the https public URL: its redirect loops
			"http://127.0.0.1:8000/aB3dEfG",
			"http://[::1]:8000/aB3dEfG",
			"https://evil.example\\@bank.com/",
			"https://exa<mple.com/",
			"http://1.2.3.256/",
			"http://[1.2.3.4]/",
			"https://-bad.example/",
			"https://example.com/\xff",
		} {
			_, err := p.Normalize(in)
			if got, want := backend.ErrorCode(err), backend.EINVALIDURL; got != want {
				t.Errorf("Normalize(%q) error code = %q, want %q", in, got, want)
			}
		}
	})
}

// Every name that reaches the shortener itself is refused: a link to it would loop.
func TestNormalizeRefusesOtherNamesOfItself(t *testing.T) {
	for _, tc := range []struct {
		name, own string
		refused   []string
		accepted  []string
	}{
		{"LocalHost", "http://localhost:8000", []string{
			"http://0.0.0.0:8000/aB3dEfG", "http://[::]:8000/aB3dEfG", "http://kurz.localhost:8000/aB3dEfG",
			"http://localhost.localdomain:8000/aB3dEfG", "http://ip6-localhost:8000/x", "http://127.1.2.3:8000/x",
			"http://LOCALHOST.:8000/x", "http://[::1]:8000/x",
		}, []string{"http://0.0.0.0:9000/x", "http://localhost:8001/x", "https://kurz.example/x"}},
		{"HTTPFormOfHTTPS", "https://kurz.test", []string{
			"http://kurz.test/x", "http://kurz.test:80/x", "https://kurz.test/x", "https://KURZ.test:443/x",
		}, []string{"http://kurz.test:8080/x", "https://kurz.test:8443/x", "http://other.test/x"}},
		{"PublicHostIsNotLocal", "https://kurz.example", nil, []string{"http://localhost/x", "http://0.0.0.0/x", "https://kurz.localhost/x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := backend.URLPolicy{Own: []string{tc.own}}
			for _, in := range tc.refused {
				if _, err := p.Normalize(in); backend.ErrorCode(err) != backend.EINVALIDURL {
					t.Errorf("Normalize(%q) with %s = %v, want it refused as the shortener itself", in, tc.own, err)
				}
			}
			for _, in := range tc.accepted {
				if _, err := p.Normalize(in); err != nil {
					t.Errorf("Normalize(%q) with %s = %v, want it accepted", in, tc.own, err)
				}
			}
		})
	}
}

// WHATWG's URL test inputs that a parser must reject are rejected here too.
func TestNormalizeRejectsWHATWGFailures(t *testing.T) {
	b, err := os.ReadFile("../../shared/testdata/urltestdata.json")
	if err != nil {
		t.Skip("shared/testdata not present:", err)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatal(err)
	}
	p := backend.URLPolicy{}
	checked := 0
	for _, raw := range entries {
		var e struct {
			Input   string  `json:"input"`
			Base    *string `json:"base"`
			Failure bool    `json:"failure"`
		}
		if json.Unmarshal(raw, &e) != nil || !e.Failure {
			continue
		}
		checked++
		if got, err := p.Normalize(e.Input); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", e.Input, got)
		}
	}
	if checked == 0 {
		t.Fatal("no failure entries found")
	}
}

// A URL either is refused as invalid_url, or normalizes to a target the edge
// would serve, and normalizing that again changes nothing.
func FuzzNormalize(f *testing.F) {
	for _, seed := range []string{
		"https://example.com/a?b#c", "javascript:x", "http://[::1]:80/", "https://a@b/",
		"HTTPS://WWW.Example.COM/Path?Q=A#F", "https://bücher.example/", "//evil.example/x", `https:\\evil.example`,
		"https://bank.com@evil.example", "https://example.com/\r\nx", "http://0x7f.1/", "https://xn--/",
		"https://example.com:99999/", "https://a..b/", "http://[fe80::1%25eth0]/", "https://例え.テスト/パス",
	} {
		f.Add(seed)
	}
	p := backend.URLPolicy{MaxLength: 2048, Own: []string{"https://kurz.example"}}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := p.Normalize(in)
		if err != nil {
			if code := backend.ErrorCode(err); code != backend.EINVALIDURL {
				t.Fatalf("Normalize(%q) error code = %q (%v), want %q", in, code, err, backend.EINVALIDURL)
			}
			return
		}
		if !link.IsSafeTarget(out) {
			t.Fatalf("Normalize(%q) = %q, which the edge would refuse", in, out)
		}
		again, err := p.Normalize(out)
		if err != nil || again != out {
			t.Fatalf("Normalize not idempotent: %q → %q → %q (%v)", in, out, again, err)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	p := backend.URLPolicy{Own: []string{"https://kurz.example"}}
	for i := 0; i < b.N; i++ {
		if _, err := p.Normalize("https://www.example.com/very/long/url/path?q=1"); err != nil {
			b.Fatal(err)
		}
	}
}
