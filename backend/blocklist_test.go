package backend_test

import (
	"testing"

	"github.com/kurzlink/kurz/backend"
)

func TestParseBlocklist(t *testing.T) {
	text := []byte("# phishing\nevil.example\n0.0.0.0 tracker.example  # hosts format\n127.0.0.1\tads.example\nBÜCHER.example.\n\n  spaced.example  \n")
	got := backend.ParseBlocklist(text)
	for _, d := range []string{"evil.example", "tracker.example", "ads.example", "xn--bcher-kva.example", "spaced.example"} {
		if !got[d] {
			t.Errorf("%s not listed; got %v", d, got)
		}
	}
	if len(got) != 5 {
		t.Errorf("%d domains, want 5: %v", len(got), got)
	}
}

func TestBlocklistBlocksSubdomainsOnly(t *testing.T) {
	bl, err := backend.NewBlocklist("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if bl.Blocks("evil.example") {
		t.Fatal("an empty blocklist blocked something")
	}
	p := backend.URLPolicy{Blocked: bl}
	if _, err := p.Normalize("https://evil.example/"); err != nil {
		t.Fatal(err)
	}
}
