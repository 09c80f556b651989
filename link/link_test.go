package link_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kurzlink/kurz/link"
)

func TestIsCode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"aB3dEfG", true},
		{"-_09azZ", true},
		{"aB3dEf", false},
		{"aB3dEfGh", false},
		{"aB3dEf.", false},
		{"aB3dEf/", false},
		{"aB3dEf=", false},
		{"", false},
		{"aB3dEfé", false},
	} {
		if got := link.IsCode(tc.in); got != tc.want {
			t.Errorf("IsCode(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestIsSafeTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"https://example.com/x?y#z", true},
		{"HTTP://example.com", true},
		{"http://[::1]:8080/", true},
		{"ftp://example.com/", false},
		{"javascript:alert(1)", false},
		{"//example.com/", false},
		{"https:///path", false},
		{"https://example.com/\r\nSet-Cookie: x", false},
		{"https://example.com/a b", false},
		{"https://bank.com@evil.example/", false},
		{"https://evil.example\\@bank.com/", false},
		{"", false},
	} {
		if got := link.IsSafeTarget(tc.in); got != tc.want {
			t.Errorf("IsSafeTarget(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestKeys(t *testing.T) {
	if got, want := link.CodeKey("aB3dEfG"), "code:aB3dEfG"; got != want {
		t.Errorf("CodeKey = %q, want %q", got, want)
	}
	if got, want := link.URLHashKey("ab"), "urlhash:ab"; got != want {
		t.Errorf("URLHashKey = %q, want %q", got, want)
	}
}

func TestVisitsRoundTrip(t *testing.T) {
	at := time.Unix(1700000000, 0).UTC()
	in := []link.Visit{
		{Code: "abcDEF1", At: at, Addr: "203.0.113.7", Referrer: "https://news.example/a?b", UserAgent: "Mozilla/5.0 (X11)\tx"},
		{Code: "my-alias", At: at, Addr: "2001:db8::1", Referrer: "", UserAgent: strings.Repeat("u", 600)},
	}
	var b []byte
	for _, v := range in {
		b = link.AppendVisit(b, v)
	}
	b = append(b, "junk line\nabcDEF1\tnot-a-time\tx\ty\tz\n"...)
	var got []link.Visit
	malformed := link.ParseVisits(string(b), func(v link.Visit) { got = append(got, v) })
	if malformed != 2 || len(got) != 2 {
		t.Fatalf("parsed %d visits, %d malformed: %+v", len(got), malformed, got)
	}
	if got[0].UserAgent != "Mozilla/5.0 (X11) x" || got[0].Referrer != in[0].Referrer || !got[0].At.Equal(at) || got[0].Addr != in[0].Addr {
		t.Errorf("visit = %+v", got[0])
	}
	if len(got[1].UserAgent) != link.MaxUserAgentBytes {
		t.Errorf("user agent kept %d bytes, want %d", len(got[1].UserAgent), link.MaxUserAgentBytes)
	}
}

func TestClientAddr(t *testing.T) {
	for _, tc := range []struct {
		name   string
		xff    []string
		remote string
		want   string
	}{
		{"Peer", nil, "198.51.100.4:4000", "198.51.100.4"},
		{"PeerIPv6", nil, "[2001:db8::7]:4000", "2001:db8::7"},
		{"PeerWithoutPort", nil, "198.51.100.4", "198.51.100.4"},
		{"LastForwardedEntry", []string{"203.0.113.1, 203.0.113.9 "}, "127.0.0.1:1", "203.0.113.9"},
		{"LastForwardedHeader", []string{"203.0.113.1", "203.0.113.5"}, "127.0.0.1:1", "203.0.113.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := link.ClientAddr(tc.xff, tc.remote); got != tc.want {
				t.Errorf("ClientAddr(%q, %q) = %q, want %q", tc.xff, tc.remote, got, tc.want)
			}
		})
	}
}
