package backend_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

// flakyStore is an ImportStore whose database is away for its first calls.
type flakyStore struct {
	away  int // calls that fail
	calls int
	next  int64
}

func (s *flakyStore) NextIDs(_ context.Context, n int) ([]int64, error) {
	ids := make([]int64, n)
	for i := range ids {
		s.next++
		ids[i] = s.next
	}
	return ids, nil
}

func (s *flakyStore) ImportLinks(_ context.Context, _ string, links []backend.ImportedLink) ([]backend.ImportOutcome, error) {
	s.calls++
	if s.calls <= s.away {
		return nil, backend.Errorf(backend.EUNAVAILABLE, "database unavailable")
	}
	return make([]backend.ImportOutcome, len(links)), nil
}

func TestImporterWaitsForTheDatabase(t *testing.T) {
	codec, err := link.NewCodec("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	records := slices.Values([]backend.ImportRecord{{Line: 2, Code: "kept-code", URL: "https://example.com/a"}})
	for name, tc := range map[string]struct {
		away     int
		imported int
		fails    bool
	}{"OKAfterTwoFailures": {2, 1, false}, "ErrAwayTooLong": {5, 0, true}} {
		t.Run(name, func(t *testing.T) {
			store := &flakyStore{away: tc.away}
			im := &backend.Importer{Store: store, Codec: codec, RetryPause: time.Millisecond, Policy: backend.URLPolicy{MaxLength: 2048}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			sum, err := im.Run(t.Context(), "csv", records)
			if got, want := sum.Imported, tc.imported; got != want || (err != nil) != tc.fails {
				t.Errorf("imported %d, err %v; want %d, failing %v", got, err, want, tc.fails)
			}
		})
	}
}
