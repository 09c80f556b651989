package link_test

import (
	"testing"

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
