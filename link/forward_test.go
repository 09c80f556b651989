package link_test

import (
	"strings"
	"testing"

	"github.com/kurzlink/kurz/link"
)

func TestForwardQuery(t *testing.T) {
	long := strings.Repeat("a", link.MaxForwardedBytes)
	for _, tc := range []struct {
		name, target, query, want string
	}{
		{"OKNoQuery", "https://example.com/a", "", "https://example.com/a"},
		{"OKAppended", "https://example.com/a", "utm_source=x&b=2", "https://example.com/a?utm_source=x&b=2"},
		{"OKAfterTargetsOwn", "https://example.com/a?id=1", "b=2", "https://example.com/a?id=1&b=2"},
		{"OKAfterEmptyQuestionMark", "https://example.com/a?", "b=2", "https://example.com/a?b=2"},
		{"OKAfterTrailingAmpersand", "https://example.com/a?id=1&", "b=2", "https://example.com/a?id=1&b=2"},
		{"OKBeforeFragment", "https://example.com/a?id=1#top", "b=2", "https://example.com/a?id=1&b=2#top"},
		{"OKBeforeFragmentWithoutQuery", "https://example.com/a#top", "b=2", "https://example.com/a?b=2#top"},
		{"ErrControlByteLeavesTarget", "https://example.com/a", "b=\r\nSet-Cookie:x", "https://example.com/a"},
		{"ErrSpaceLeavesTarget", "https://example.com/a", "b= 2", "https://example.com/a"},
		{"ErrTooLongLeavesTarget", "https://example.com/a", long, "https://example.com/a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := link.ForwardQuery(tc.target, tc.query)
			if got != tc.want {
				t.Errorf("ForwardQuery(%q, %.40q) = %.80q, want %.80q", tc.target, tc.query, got, tc.want)
			}
			if !link.IsSafeTarget(got) {
				t.Errorf("ForwardQuery(%q, %.40q) = %.80q: not a safe target", tc.target, tc.query, got)
			}
		})
	}
}

func TestCachedTarget(t *testing.T) {
	for _, forward := range []bool{false, true} {
		v := link.CachedTarget("https://example.com/a", forward)
		target, gotForward := link.ParseCachedTarget(v)
		if target != "https://example.com/a" || gotForward != forward {
			t.Errorf("ParseCachedTarget(CachedTarget(_, %v)) = %q, %v", forward, target, gotForward)
		}
		if got, want := link.IsSafeTarget(v), !forward; got != want {
			t.Errorf("IsSafeTarget(%q) = %v, want %v: an edge that predates the prefix must not serve it", v, got, want)
		}
	}
}
