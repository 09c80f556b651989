package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

func TestRedirect(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	rc := MustRedisClient(t, rd)
	ctx := context.Background()
	target := "https://example.com/redirect-target?q=1"
	code := MustShorten(t, b.URL, target)

	t.Run("FromCache", func(t *testing.T) {
		if got, _ := rc.Get(ctx, link.CodeKey(code)).Result(); got != target {
			t.Fatalf("create did not fill %s: %q", link.CodeKey(code), got)
		}
		res := do(t, http.MethodGet, b.URL+"/"+code, "", "")
		if res.Status != http.StatusMovedPermanently || res.Header.Get("Location") != target {
			t.Errorf("GET = %d Location %q, want 301 %q", res.Status, res.Header.Get("Location"), target)
		}
		if res.Header.Get("Cache-Control") == "" {
			t.Error("no Cache-Control on redirect")
		}
	})
	t.Run("FromPostgresFillsCache", func(t *testing.T) {
		rc.Del(ctx, link.CodeKey(code))
		res := do(t, http.MethodHead, b.URL+"/"+code, "", "")
		if res.Status != http.StatusMovedPermanently || res.Header.Get("Location") != target {
			t.Errorf("HEAD = %d Location %q", res.Status, res.Header.Get("Location"))
		}
		if got, _ := rc.Get(ctx, link.CodeKey(code)).Result(); got != target {
			t.Errorf("redirect did not refill the cache: %q", got)
		}
		if ttl := rc.TTL(ctx, link.CodeKey(code)).Val(); ttl <= 23*time.Hour || ttl > link.CodeTTL {
			t.Errorf("TTL = %s, want about %s", ttl, link.CodeTTL)
		}
	})
	t.Run("ErrUnknownCode", func(t *testing.T) {
		res := do(t, http.MethodGet, b.URL+"/zzzzzzz", "", "")
		if res.Status != http.StatusNotFound || errorCode(res) != "not_found" {
			t.Errorf("GET unknown = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("ErrNotACode", func(t *testing.T) {
		for _, path := range []string{"/abc", "/toolongcode", "/aB3dE.G", "/aB3dEfG/x", "/static/x.js"} {
			res := do(t, http.MethodGet, b.URL+path, "", "")
			if res.Status != http.StatusNotFound {
				t.Errorf("GET %s = %d %s", path, res.Status, res.Raw)
			}
		}
	})
	t.Run("ErrMethod", func(t *testing.T) {
		res := do(t, http.MethodPost, b.URL+"/"+code, "", "")
		if res.Status != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST /code = %d Allow %q", res.Status, res.Header.Get("Allow"))
		}
	})
	t.Run("Health", func(t *testing.T) {
		res := do(t, http.MethodGet, b.URL+"/health", "", "")
		if res.Status != http.StatusOK || res.Body["status"] != "healthy" {
			t.Errorf("health = %d %s", res.Status, res.Raw)
		}
	})
}

func TestHitsReachPostgres(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	code := MustShorten(t, b.URL, "https://example.com/counted")
	count := func() int64 {
		return MustQueryInt(t, db, `SELECT access_count FROM url_mappings WHERE short_code = $1`, code)
	}

	t.Run("BackendRedirects", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			do(t, http.MethodGet, b.URL+"/"+code, "", "")
		}
		eventually(t, 5*time.Second, func() error {
			if got := count(); got != 5 {
				return fmt.Errorf("access_count = %d, want 5", got)
			}
			return nil
		})
	})
	t.Run("EdgeHitsInRedis", func(t *testing.T) {
		MustRedisClient(t, rd).HIncrBy(context.Background(), link.HitsKey, code, 3)
		eventually(t, 5*time.Second, func() error {
			if got := count(); got != 8 {
				return fmt.Errorf("access_count = %d, want 8", got)
			}
			return nil
		})
	})
	t.Run("FlushedOnShutdown", func(t *testing.T) {
		slow := MustStartBackend(t, db, rd.URL(), map[string]string{"KURZ_HIT_FLUSH_INTERVAL": "1h"})
		for i := 0; i < 4; i++ {
			do(t, http.MethodGet, slow.URL+"/"+code, "", "")
		}
		if got := count(); got != 8 {
			t.Fatalf("access_count = %d before shutdown, want 8 (flush interval is 1h)", got)
		}
		slow.Stop(t) // pushed to Redis at shutdown, folded by a replica
		eventually(t, 5*time.Second, func() error {
			if got := count(); got != 12 {
				return fmt.Errorf("access_count = %d after shutdown, want 12", got)
			}
			return nil
		})
	})
}
