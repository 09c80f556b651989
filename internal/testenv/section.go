package testenv

import (
	"os"
	"strings"
	"testing"
)

// MustMatchSection checks that the text of the file at path between the
// lines begin and end is want, or, with update, writes want there: the
// generated parts of a page the tests keep in step with the code.
func MustMatchSection(tb testing.TB, path, begin, end, want string, update bool) {
	tb.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	before, rest, ok := strings.Cut(string(doc), begin)
	_, after, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		tb.Fatalf("%s lacks the markers %q and %q", path, begin, end)
	}
	whole := before + begin + want + end + after
	if update {
		if err := os.WriteFile(path, []byte(whole), 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	if string(doc) != whole {
		tb.Errorf("%s is not what the code says between %q and %q: run make docs", path, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
}
