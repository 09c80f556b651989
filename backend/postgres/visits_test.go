package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/internal/testenv"
)

func TestFoldVisits(t *testing.T) {
	db := MustOpen(t, testenv.SharedPostgres(t).NewDatabase(t))
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	hour := time.Now().UTC().Truncate(time.Hour)
	old := hour.Add(-100 * 24 * time.Hour)
	fold := func(last string, rollups ...backend.VisitRollup) func(backend.VisitCursor) (backend.VisitFold, error) {
		return func(backend.VisitCursor) (backend.VisitFold, error) {
			return backend.VisitFold{Last: last, Entries: 1, Visits: 1, Rollups: rollups}, nil
		}
	}
	t.Run("OK", func(t *testing.T) {
		for _, f := range []func(backend.VisitCursor) (backend.VisitFold, error){
			fold("1-0", backend.VisitRollup{Code: "abcdefg", Hour: hour, Dim: backend.DimKind, Value: "human", Visits: 2}),
			fold("2-0", backend.VisitRollup{Code: "abcdefg", Hour: hour, Dim: backend.DimKind, Value: "human", Visits: 3},
				backend.VisitRollup{Code: "abcdefg", Hour: old, Dim: backend.DimKind, Value: "bot", Visits: 1}),
		} {
			if _, err := db.FoldVisits(ctx, f); err != nil {
				t.Fatal(err)
			}
		}
		st, err := db.VisitStats(ctx, "abcdefg", hour, hour.Add(time.Hour), time.Hour)
		if err != nil || st.Humans != 5 || st.Bots != 0 {
			t.Errorf("stats of this hour = %+v %v, want 5 humans (added up), no bot", st, err)
		}
	})
	t.Run("ErrFoldFailsMovesNothing", func(t *testing.T) {
		var cursor string
		_, err := db.FoldVisits(ctx, func(c backend.VisitCursor) (backend.VisitFold, error) {
			cursor = c.Last
			return backend.VisitFold{}, errors.New("redis went away")
		})
		if err == nil || cursor != "2-0" {
			t.Fatalf("fold = %v with cursor %q, want the error and the cursor 2-0", err, cursor)
		}
		if _, err := db.FoldVisits(ctx, func(c backend.VisitCursor) (backend.VisitFold, error) {
			cursor = c.Last
			return backend.VisitFold{}, nil
		}); err != nil || cursor != "2-0" {
			t.Errorf("after a failed fold the cursor is %q (%v), want 2-0", cursor, err)
		}
	})
	t.Run("Prune", func(t *testing.T) {
		n, err := db.PruneVisitStats(ctx, hour.Add(-90*24*time.Hour))
		if err != nil || n != 1 {
			t.Errorf("pruned %d rows (%v), want the one of 100 days ago", n, err)
		}
		st, _ := db.VisitStats(ctx, "abcdefg", hour, hour.Add(time.Hour), time.Hour)
		if st.Humans != 5 {
			t.Errorf("pruning took this hour's visits: %+v", st)
		}
	})
}
