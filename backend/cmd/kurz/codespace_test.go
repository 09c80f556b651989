package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

// A backend with another code secret than the database's codes were made
// with is refused at start, naming what to set.
func TestRefusesAnotherCodeSecret(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	MustShorten(t, b.URL, "https://example.com/made-with-the-first-secret")
	b.Stop(t)
	err := runRefused(t, db, rd.URL(), map[string]string{"KURZ_CODE_SECRET": "9e1f0c2b7a6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f"})
	if err == nil || !strings.Contains(err.Error(), "KURZ_CODE_SECRET") || !strings.Contains(err.Error(), "set the secret it was made with") {
		t.Errorf("run with another secret = %v, want a refusal that says what to set", err)
	}
}

// Redis losing everything (a restart without persistence, a failover to an
// empty node): the backends put the alias list back, then codes:issued.
func TestCodeSpaceRestoredAfterRedisLostIt(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	key := MustCreateKey(t, db, "ops")
	rc := MustRedisClient(t, rd)
	ctx := context.Background()
	alias := fmt.Sprintf("r%06d", time.Now().UnixNano()%1_000_000)
	if res := doKey(t, "POST", b.URL+"/api/shorten", key, `{"url":"https://example.com/restored","alias":"`+alias+`"}`); res.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", res.Status, res.Raw)
	}
	MustShorten(t, b.URL, "https://example.com/restored-plain")
	mustCodeSpace(t, rc, alias)
	if err := rc.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	mustCodeSpace(t, rc, alias)
}

// mustCodeSpace waits until Redis holds codes:issued with an id and lists alias.
func mustCodeSpace(tb testing.TB, rc *goredis.Client, alias string) {
	tb.Helper()
	ctx := context.Background()
	testenv.Eventually(tb, 5*time.Second, func() error {
		v, _ := rc.Get(ctx, link.CodesIssuedKey).Result()
		if _, id, ok := link.ParseIssued(v); !ok || id == 0 {
			return fmt.Errorf("codes:issued = %q", v)
		}
		if listed, _ := rc.SIsMember(ctx, link.CodesAliasesKey, alias).Result(); !listed {
			return fmt.Errorf("codes:aliases lacks %s", alias)
		}
		return nil
	})
}
