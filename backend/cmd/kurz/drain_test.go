package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
)

// On SIGTERM with KURZ_SHUTDOWN_DRAIN, a replica first says it is not ready
// and keeps serving, so the load balancer's health check takes it out of the
// pool before it stops listening (a stopped container's address hangs).
func TestShutdownDrainsBeforeItStopsListening(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	b := MustStartBackend(t, pg.NewDatabase(t), rd.URL(), map[string]string{"KURZ_SHUTDOWN_DRAIN": "1s"})
	code := MustShorten(t, b.URL, "https://example.com/drained")

	stopped := make(chan struct{})
	begun := time.Now()
	go func() { b.Stop(t); close(stopped) }()
	testenv.Eventually(t, 2*time.Second, func() error {
		if res, err := testenv.Send("GET", b.URL+"/health/ready", ""); err != nil || res.Status != http.StatusServiceUnavailable || res.Body["status"] != "draining" {
			return fmt.Errorf("ready while draining = %d %s %v, want 503 draining", res.Status, res.Raw, err)
		}
		return nil
	})
	t.Run("ServesWhileDraining", func(t *testing.T) {
		if res := do(t, "GET", b.URL+"/"+code, "", ""); res.Status != http.StatusMovedPermanently {
			t.Errorf("redirect while draining = %d %s", res.Status, res.Raw)
		}
		if res := do(t, "GET", b.URL+"/health", "", ""); res.Status != http.StatusOK {
			t.Errorf("liveness while draining = %d %s, want 200 (draining is not dying)", res.Status, res.Raw)
		}
	})
	<-stopped
	if d := time.Since(begun); d < time.Second {
		t.Errorf("stopped after %v, before the 1s drain", d)
	}
}
