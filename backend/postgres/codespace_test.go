package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/backend/postgres"
	"github.com/kurzlink/kurz/internal/testenv"
)

func MustMigrated(tb testing.TB) *postgres.DB {
	tb.Helper()
	db := MustOpen(tb, testenv.SharedPostgres(tb).NewDatabase(tb))
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// MustCreate stores a link with id and code, plain (dedup) or standing alone.
func MustCreate(tb testing.TB, db *postgres.DB, id int64, code string, plain bool) {
	tb.Helper()
	url := "https://example.com/" + code
	if _, _, err := db.CreateLink(context.Background(), backend.Link{ID: id, Code: code, URL: url, URLHash: backend.HashURL("", url), Dedup: plain}); err != nil {
		tb.Fatal(err)
	}
}

// A database remembers the secret its codes were made with, and lists its
// existing aliases the first time.
func TestClaimCodeSpace(t *testing.T) {
	ctx := context.Background()
	codec := testenv.MustCodec(t, "the secret of this database")
	t.Run("OKListsExistingAliases", func(t *testing.T) {
		db := MustMigrated(t)
		ids, _ := db.NextIDs(ctx, 4)
		generated, _ := codec.Encode(ids[0])
		MustCreate(t, db, ids[0], generated, true)
		MustCreate(t, db, ids[1], "myAlias", false) // 7 characters: the edge cannot decode it
		MustCreate(t, db, ids[2], "short", false)   // not code-shaped: listed for the backends
		withOptions, _ := codec.Encode(ids[3])
		MustCreate(t, db, ids[3], withOptions, false) // a generated code standing alone
		if err := db.ClaimCodeSpace(ctx, codec); err != nil {
			t.Fatal(err)
		}
		got, err := db.ListedAliases(ctx)
		slices.Sort(got)
		if want := []string{"myAlias", "short"}; err != nil || !slices.Equal(got, want) {
			t.Errorf("ListedAliases = %v, %v; want %v", got, err, want)
		}
		if err := db.ClaimCodeSpace(ctx, codec); err != nil {
			t.Errorf("claiming again: %v", err)
		}
		issued, err := db.IssuedID(ctx)
		if want := ids[3]; err != nil || issued != want {
			t.Errorf("IssuedID = %d, %v; want %d", issued, err, want)
		}
	})
	t.Run("ErrAnotherSecret", func(t *testing.T) {
		db := MustMigrated(t)
		if err := db.ClaimCodeSpace(ctx, codec); err != nil {
			t.Fatal(err)
		}
		err := db.ClaimCodeSpace(ctx, testenv.MustCodec(t, "another secret"))
		var mismatch *postgres.SecretMismatchError
		if !errors.As(err, &mismatch) {
			t.Fatalf("ClaimCodeSpace with another secret = %v, want a SecretMismatchError", err)
		}
	})
	t.Run("ErrAnotherSecretBeforeTheFirstClaim", func(t *testing.T) {
		db := MustMigrated(t) // a database of an older kurz, its codes made with the other secret
		ids, _ := db.NextIDs(ctx, 1)
		code, _ := testenv.MustCodec(t, "the old secret").Encode(ids[0])
		MustCreate(t, db, ids[0], code, true)
		var mismatch *postgres.SecretMismatchError
		if err := db.ClaimCodeSpace(ctx, codec); !errors.As(err, &mismatch) {
			t.Fatalf("ClaimCodeSpace = %v, want a SecretMismatchError", err)
		}
	})
	t.Run("OKUpgradeListsAliasesOfOtherLengths", func(t *testing.T) {
		url := testenv.SharedPostgres(t).NewDatabase(t)
		db := MustOpen(t, url)
		if err := db.MigrateTo(ctx, 10); err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, url) // that release's rows, written as its schema wants them
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `INSERT INTO url_mappings (id, short_code, original_url, url_hash, dedup)
			VALUES (1, 'myAlias', 'https://example.com/1', sha256('1'), false), (2, 'an-older-alias', 'https://example.com/2', sha256('2'), false)`); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := db.ListedAliases(ctx)
		if want := []string{"an-older-alias"}; err != nil || !slices.Equal(got, want) {
			t.Errorf("ListedAliases after the upgrade = %v, %v; want %v (7-character ones are listed when the code space is claimed)", got, err, want)
		}
	})
	t.Run("CreateAliasIsListedAndAnnounced", func(t *testing.T) {
		db := MustMigrated(t)
		l := backend.Link{ID: 7, Code: "newAlia", URL: "https://example.com/a", URLHash: backend.HashURL("", "https://example.com/a")}
		_, inv, err := db.CreateAlias(ctx, l)
		if err != nil || !inv.Announce || inv.Code != l.Code {
			t.Fatalf("CreateAlias = %+v, %v", inv, err)
		}
		pending, _ := db.PendingInvalidations(ctx, 10)
		if len(pending) != 1 || !pending[0].Announce {
			t.Errorf("pending invalidations = %+v, want the announcement", pending)
		}
		l.ID = 8
		if _, _, err := db.CreateAlias(ctx, l); backend.ErrorCode(err) != backend.ECONFLICT {
			t.Errorf("CreateAlias of a taken alias = %v, want conflict", err)
		}
		other := backend.Link{ID: 9, Code: "other-length", URL: "https://example.com/o", URLHash: backend.HashURL("", "https://example.com/o")}
		if _, inv, err := db.CreateAlias(ctx, other); err != nil || !inv.Announce {
			t.Fatalf("CreateAlias(%s) = %+v, %v", other.Code, inv, err)
		}
		if got, want := mustCountListed(t, db), (backend.AliasCounts{Edge: 1, Other: 1}); got != want {
			t.Errorf("CountListedAliases = %+v, want %+v", got, want)
		}
	})
}

func mustCountListed(tb testing.TB, db *postgres.DB) backend.AliasCounts {
	tb.Helper()
	n, err := db.CountListedAliases(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
