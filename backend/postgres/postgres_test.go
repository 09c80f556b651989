package postgres_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/backend/postgres"
	"github.com/kurzlink/kurz/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func MustOpen(tb testing.TB, url string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), url, "", 5*time.Second, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	return db
}

// Replicas starting at once apply each migration exactly once.
func TestMigrateConcurrently(t *testing.T) {
	url := testenv.SharedPostgres(t).NewDatabase(t)
	const replicas = 6
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := 0; i < replicas; i++ {
		db := MustOpen(t, url)
		wg.Add(1)
		go func(i int) { defer wg.Done(); errs[i] = db.Migrate(context.Background()) }(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	db := MustOpen(t, url)
	if err := db.Migrate(context.Background()); err != nil {
		t.Errorf("migrating again: %v", err)
	}
	ids, err := db.NextIDs(context.Background(), 3)
	if err != nil || len(ids) != 3 {
		t.Fatalf("NextIDs = %v, %v", ids, err)
	}
}

func TestCreateLink(t *testing.T) {
	db := MustOpen(t, testenv.SharedPostgres(t).NewDatabase(t))
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	hash := backend.HashURL("", "https://example.com/")
	t.Run("OK", func(t *testing.T) {
		l, created, err := db.CreateLink(ctx, backend.Link{ID: 1, Code: "aaaaaaa", URL: "https://example.com/", URLHash: hash, Dedup: true})
		if err != nil || !created || l.Code != "aaaaaaa" {
			t.Fatalf("CreateLink = %+v, %v, %v", l, created, err)
		}
	})
	t.Run("SameURLReturnsExisting", func(t *testing.T) {
		l, created, err := db.CreateLink(ctx, backend.Link{ID: 2, Code: "bbbbbbb", URL: "https://example.com/", URLHash: hash, Dedup: true})
		if err != nil || created || l.Code != "aaaaaaa" {
			t.Fatalf("CreateLink = %+v, %v, %v", l, created, err)
		}
	})
	t.Run("ErrCodeTaken", func(t *testing.T) {
		_, _, err := db.CreateLink(ctx, backend.Link{ID: 3, Code: "aaaaaaa", URL: "https://example.org/", URLHash: backend.HashURL("", "https://example.org/"), Dedup: true})
		if got, want := backend.ErrorCode(err), backend.ECONFLICT; got != want {
			t.Fatalf("error code = %q (%v), want %q", got, err, want)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := db.FindByCode(ctx, "zzzzzzz")
		if got, want := backend.ErrorCode(err), backend.ENOTFOUND; got != want {
			t.Fatalf("error code = %q, want %q", got, want)
		}
	})
	t.Run("AddHits", func(t *testing.T) {
		for i, want := range []bool{true, false} { // the retry of a chunk adds nothing
			applied, err := db.AddHits(ctx, "batch-1/0", map[string]int64{"aaaaaaa": 3, "unknown": 5})
			if err != nil || applied != want {
				t.Fatalf("AddHits #%d = %v, %v; want %v", i, applied, err, want)
			}
		}
		l, err := db.FindByCode(ctx, "aaaaaaa")
		if got, want := l.AccessCount, int64(3); err != nil || got != want {
			t.Fatalf("access_count = %d (%v), want %d", got, err, want)
		}
	})
	t.Run("AddHitsSaturates", func(t *testing.T) {
		if _, err := db.AddHits(ctx, "batch-2/0", map[string]int64{"aaaaaaa": 1 << 62}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddHits(ctx, "batch-3/0", map[string]int64{"aaaaaaa": 1 << 62}); err != nil {
			t.Fatalf("adding past the largest bigint: %v", err)
		}
		l, _ := db.FindByCode(ctx, "aaaaaaa")
		if got, want := l.AccessCount, int64(1<<63-1); got != want {
			t.Errorf("access_count = %d, want %d", got, want)
		}
	})
}

// The benchmarks' pgbench script runs against the current schema.
func TestPgbenchScriptMatchesSchema(t *testing.T) {
	url := testenv.SharedPostgres(t).NewDatabase(t)
	db := MustOpen(t, url)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(testenv.Root(), "traefik", "bench", "create.pgbench.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var sql []string
	for _, line := range strings.Split(string(script), "\n") {
		if !strings.HasPrefix(line, `\set`) && !strings.HasPrefix(line, "--") {
			sql = append(sql, strings.ReplaceAll(line, ":id", "1234567890123"))
		}
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for i := 0; i < 2; i++ { // created, then found
		if _, err := conn.Exec(context.Background(), strings.Join(sql, "\n")); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}

// A primary demoted under a pooled connection answers "read-only transaction"
// (SQLSTATE 25006): unavailable for now, retryable, not an internal error.
func TestReadOnlyPrimaryIsUnavailable(t *testing.T) {
	url := testenv.SharedPostgres(t).NewDatabase(t)
	if err := MustOpen(t, url).Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	db := MustOpen(t, url+sep+"default_transaction_read_only=on")
	_, _, err := db.CreateLink(context.Background(), backend.Link{ID: 1, Code: "readOnl", URL: "https://example.com/", URLHash: backend.HashURL("", "https://example.com/"), Dedup: true})
	if got, want := backend.ErrorCode(err), backend.EUNAVAILABLE; got != want {
		t.Errorf("error code = %q (%v), want %q", got, err, want)
	}
}
