package redis_test

import (
	"context"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/backend/redis"
	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A Redis that accepts connections and never answers costs one timeout, then
// calls fail without touching the network until the cooldown ends.
func TestBreakerStopsCallsToAHangingRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			defer conn.Close() // held open, never answered
		}
	}()
	cache, err := redis.Open("redis://"+ln.Addr().String()+"/0", redis.Sentinel{}, 100*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	ctx := context.Background()
	if _, err := cache.URL(ctx, "aaaaaaa"); err == nil {
		t.Fatal("a hanging Redis answered")
	}
	before := accepted.Load()
	for i := 0; i < 20; i++ {
		if _, err := cache.URL(ctx, "aaaaaaa"); err == nil {
			t.Fatal("a hanging Redis answered")
		}
	}
	if got := accepted.Load() - before; got != 0 {
		t.Errorf("%d new connections while the breaker was open, want 0", got)
	}
}

// A caller that gives up (a client hanging up) is no failure of Redis: the
// breaker stays closed and the next caller is answered.
func TestBreakerIgnoresCallersCancellation(t *testing.T) {
	cache := MustOpen(t, testenv.SharedRedis(t))
	for i := 0; i < 300; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		cache.URL(ctx, "aaaaaaa")
	}
	if err := cache.Ping(context.Background()); err != nil {
		t.Errorf("Ping after 300 cancelled calls = %v, want nil", err)
	}
}

func TestSetLinkRefusesAnOlderVersion(t *testing.T) {
	cache := MustOpen(t, testenv.SharedRedis(t))
	ctx := context.Background()
	old := backend.Link{Code: "vErSiOn", URL: "https://example.com/old", URLHash: backend.HashURL("", "https://example.com/old"), Dedup: true, Version: 10}
	if ok, err := cache.SetLink(ctx, old, time.Hour, true); !ok || err != nil {
		t.Fatalf("SetLink = %v, %v", ok, err)
	}
	if err := cache.Invalidate(ctx, backend.Invalidation{Code: old.Code, URLHash: old.URLHash, Version: 11}); err != nil {
		t.Fatal(err)
	}
	t.Run("ErrStaleFill", func(t *testing.T) {
		if ok, err := cache.SetLink(ctx, old, time.Hour, true); ok || err != nil {
			t.Fatalf("SetLink of version 10 after 11 = %v, %v; want refused", ok, err)
		}
		if got, _ := cache.URL(ctx, old.Code); got != "" {
			t.Errorf("URL = %q, want a miss", got)
		}
		if got, _ := cache.CodeForHash(ctx, old.URLHash); got != "" {
			t.Errorf("CodeForHash = %q, want a miss", got)
		}
	})
	t.Run("OKNewVersion", func(t *testing.T) {
		l := old
		l.URL, l.Version = "https://example.com/new", 11
		if ok, err := cache.SetLink(ctx, l, time.Hour, false); !ok || err != nil {
			t.Fatalf("SetLink of version 11 = %v, %v", ok, err)
		}
		if got, want := MustURL(t, cache, l.Code), l.URL; got != want {
			t.Errorf("URL = %q, want %q", got, want)
		}
	})
}

// Malformed fields of a batch are counted and left out; the others are read.
func TestReadHitBatchDropsMalformedFields(t *testing.T) {
	r := testenv.SharedRedis(t)
	cache := MustOpen(t, r)
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	defer c.Close()
	ctx := context.Background()
	c.HSet(ctx, "hits", "okCode1", "4", "alias-ok", "2", "badNum1", "x", "tooBig1", "9223372036854775807",
		"negativ", "-3", "bad code!", "1", "zeroCnt", "0")
	batch, err := cache.TakeHitBatch(ctx)
	if err != nil || batch == "" {
		t.Fatalf("TakeHitBatch = %q, %v", batch, err)
	}
	hits, malformed, err := cache.ReadHitBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(hits), 2; got != want || hits["okCode1"] != 4 || hits["alias-ok"] != 2 {
		t.Errorf("hits = %v, want okCode1:4 alias-ok:2", hits)
	}
	if got, want := malformed, 5; got != want {
		t.Errorf("malformed = %d, want %d", got, want)
	}
	if again, _ := cache.TakeHitBatch(ctx); again != batch {
		t.Errorf("TakeHitBatch before finishing = %q, want the same batch %q", again, batch)
	}
	if err := cache.FinishHitBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(ctx, batch, "hits:folding").Result(); n != 0 {
		t.Errorf("%d keys left after finishing, want 0", n)
	}
}

func MustOpen(tb testing.TB, r *testenv.Redis) *redis.Cache {
	tb.Helper()
	cache, err := redis.Open(r.URL(), redis.Sentinel{}, time.Second, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cache.Close() })
	return cache
}

func MustURL(tb testing.TB, cache *redis.Cache, code string) string {
	tb.Helper()
	url, err := cache.URL(context.Background(), code)
	if err != nil {
		tb.Fatal(err)
	}
	return url
}

// codes:issued only rises, and is created again only when asked (after the aliases are refilled).
func TestRaiseIssued(t *testing.T) {
	r := testenv.NewRedis(t) // codes:issued is one key per Redis: a Redis of its own
	cache := MustOpen(t, r)
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	defer c.Close()
	ctx := context.Background()
	issued := func() string { v, _ := c.Get(ctx, link.CodesIssuedKey).Result(); return v }
	for _, step := range []struct {
		name        string
		id          int64
		create      bool
		wantMissing bool
		want        string
	}{
		{"ErrMissingNotCreated", 10, false, true, ""},
		{"OKCreated", 10, true, false, "00ff00ff00ff00ff 10"},
		{"OKRaised", 42, false, false, "00ff00ff00ff00ff 42"},
		{"OKNeverLowered", 41, false, false, "00ff00ff00ff00ff 42"},
	} {
		missing, err := cache.RaiseIssued(ctx, "00ff00ff00ff00ff", step.id, step.create)
		if err != nil || missing != step.wantMissing || issued() != step.want {
			t.Errorf("%s: missing %v, %v, value %q; want %v, %q", step.name, missing, err, issued(), step.wantMissing, step.want)
		}
	}
	t.Run("Announce", func(t *testing.T) {
		c.Set(ctx, link.CodesAliasesKey, "not a set", 0)
		if err := cache.Invalidate(ctx, backend.Invalidation{Code: "newAlia", Version: 3, Announce: true}); err != nil {
			t.Fatal(err)
		}
		if err := cache.AddAliases(ctx, []string{"oldAlia", "newAlia"}); err != nil {
			t.Fatal(err)
		}
		got, _ := c.SMembers(ctx, link.CodesAliasesKey).Result()
		slices.Sort(got)
		if want := []string{"newAlia", "oldAlia"}; !slices.Equal(got, want) {
			t.Errorf("codes:aliases = %v, want %v", got, want)
		}
		if got, err := cache.CountAliases(ctx); got != (backend.AliasCounts{Edge: 2, Other: 0}) || err != nil {
			t.Errorf("CountAliases = %+v, %v; want 2 and 0", got, err)
		}
	})
	t.Run("OtherLengthsAnsweredOnlyWhenWhole", func(t *testing.T) {
		c.Del(ctx, link.OtherAliasesKey)
		if err := cache.Invalidate(ctx, backend.Invalidation{Code: "fresh-one", Version: 1, Announce: true}); err != nil {
			t.Fatal(err)
		}
		mustUnlisted := func(alias string, want bool) {
			t.Helper()
			if got, err := cache.AliasUnlisted(ctx, alias); got != want || err != nil {
				t.Errorf("AliasUnlisted(%s) = %v, %v; want %v", alias, got, err, want)
			}
		}
		mustUnlisted("unknown", false) // not whole yet: Postgres must be asked
		if got, _ := cache.CountAliases(ctx); got.Other != -1 {
			t.Errorf("CountAliases before the refill = %+v, want Other -1", got)
		}
		if err := cache.AddAliases(ctx, []string{"old-alias", "newAlia"}); err != nil {
			t.Fatal(err)
		}
		mustUnlisted("unknown", true)
		mustUnlisted("old-alias", false)
		mustUnlisted("fresh-one", false)
		if got, _ := cache.CountAliases(ctx); got.Other != 2 {
			t.Errorf("CountAliases after the refill = %+v, want Other 2", got)
		}
		c.Set(ctx, link.OtherAliasesKey, "not a set", 0)
		if got, _ := cache.AliasUnlisted(ctx, "unknown"); got {
			t.Errorf("AliasUnlisted with a key of another type = true, want false")
		}
	})
}
