package link_test

import (
	"testing"

	"github.com/kurzlink/kurz/link"
)

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		domain, code, key string
		valid             bool
	}{
		{"", "abc1234", "abc1234", true},
		{"s.example.org", "abc1234", "s.example.org/abc1234", true},
		{"127.0.0.1", "launch", "127.0.0.1/launch", true},
		{"S.example.org", "abc1234", "S.example.org/abc1234", false},
		{"s..example.org", "abc1234", "s..example.org/abc1234", false},
		{"s.example.org:8000", "abc1234", "s.example.org:8000/abc1234", false},
		{"s.example.org", "a/b", "s.example.org/a/b", false},
		{"s.example.org", "ab", "s.example.org/ab", false},
	} {
		if got := link.Key(tc.domain, tc.code); got != tc.key {
			t.Errorf("Key(%q, %q) = %q, want %q", tc.domain, tc.code, got, tc.key)
		}
		if got := link.IsKey(tc.key); got != tc.valid {
			t.Errorf("IsKey(%q) = %v, want %v", tc.key, got, tc.valid)
		}
		if tc.valid {
			if d, c := link.SplitKey(tc.key); d != tc.domain || c != tc.code {
				t.Errorf("SplitKey(%q) = %q, %q", tc.key, d, c)
			}
		}
	}
	if link.IsKey("/abc1234") {
		t.Error(`IsKey("/abc1234") = true: an empty domain is the default, written without a slash`)
	}
}
