package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
)

func TestRedisOutage(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	before := MustShorten(t, b.URL, "https://example.com/before-redis-outage")
	rd.Stop()

	t.Run("CreateFromPostgres", func(t *testing.T) {
		res := shorten(t, b.URL, "https://example.com/during-redis-outage")
		if res.Status != http.StatusCreated {
			t.Fatalf("create = %d %s", res.Status, res.Raw)
		}
		again := shorten(t, b.URL, "https://example.com/during-redis-outage")
		if again.Status != http.StatusOK || again.Body["short_code"] != res.Body["short_code"] {
			t.Errorf("dedup without Redis = %d %s", again.Status, again.Raw)
		}
	})
	t.Run("RedirectFromPostgres", func(t *testing.T) {
		start := time.Now()
		res := do(t, http.MethodGet, b.URL+"/"+before, "", "")
		if res.Status != http.StatusMovedPermanently {
			t.Errorf("redirect = %d %s", res.Status, res.Raw)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("redirect took %s with Redis down", d) // generous: a stall, not a speed test
		}
	})
	t.Run("HealthUnhealthy", func(t *testing.T) {
		res := do(t, http.MethodGet, b.URL+"/health", "", "")
		if res.Status != http.StatusServiceUnavailable || res.Body["status"] != "unhealthy" || res.Body["error"] == "" {
			t.Errorf("health = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("Recovers", func(t *testing.T) {
		if err := rd.Start(); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, func() error {
			if res := do(t, http.MethodGet, b.URL+"/health", "", ""); res.Status != http.StatusOK {
				return fmt.Errorf("health = %d %s", res.Status, res.Raw)
			}
			return nil
		})
		do(t, http.MethodGet, b.URL+"/"+before, "", "")
		if got, _ := MustRedisClient(t, rd).Get(t.Context(), "code:"+before).Result(); got == "" {
			t.Error("cache not refilled after Redis came back")
		}
	})
}

func TestPostgresOutage(t *testing.T) {
	pg, rd := testenv.NewPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	cached := MustShorten(t, b.URL, "https://example.com/cached-before-pg-outage")
	pg.Stop()

	t.Run("CachedRedirectWorks", func(t *testing.T) {
		res := do(t, http.MethodGet, b.URL+"/"+cached, "", "")
		if res.Status != http.StatusMovedPermanently {
			t.Errorf("redirect = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("ErrCreateUnavailable", func(t *testing.T) {
		res := shorten(t, b.URL, "https://example.com/during-pg-outage")
		if res.Status != http.StatusServiceUnavailable || errorCode(res) != "unavailable" {
			t.Errorf("create = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("ErrUnknownCodeUnavailable", func(t *testing.T) {
		res := do(t, http.MethodGet, b.URL+"/zzzzzzz", "", "")
		if res.Status != http.StatusServiceUnavailable {
			t.Errorf("uncached redirect = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("NotACodeTouchesNothing", func(t *testing.T) {
		res := do(t, http.MethodGet, b.URL+"/favicon.ico", "", "")
		if res.Status != http.StatusNotFound {
			t.Errorf("GET /favicon.ico = %d", res.Status)
		}
	})
	t.Run("Recovers", func(t *testing.T) {
		if err := pg.Start(); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, func() error {
			if res := shorten(t, b.URL, "https://example.com/during-pg-outage"); res.Status != http.StatusCreated {
				return fmt.Errorf("create after recovery = %d %s", res.Status, res.Raw)
			}
			return nil
		})
		if got := MustQueryInt(t, db, `SELECT count(*) FROM url_mappings`); got != 2 {
			t.Errorf("rows = %d, want 2 (nothing half-written)", got)
		}
		eventually(t, 5*time.Second, func() error { // the hit counted during the outage was kept
			if got := MustQueryInt(t, db, `SELECT access_count FROM url_mappings WHERE short_code = $1`, cached); got != 1 {
				return fmt.Errorf("access_count = %d, want 1", got)
			}
			return nil
		})
	})
}
