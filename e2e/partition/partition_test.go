// Package partition_test runs kurz with every process on a host of its own
// (a network namespace) and splits, slows and drops the network between them.
package partition_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
)

func TestStackRunsOnItsOwnNetwork(t *testing.T) {
	n := testenv.MustNetwork(t)
	s := testenv.NewHAStack(t, env, testenv.OnNetwork(n))
	c := newClient(n, 5*time.Second)
	code := c.MustShorten(t, s.Traefik.URL(), "https://example.com/partition/smoke")
	for _, tr := range s.Traefiks {
		res, err := c.send("GET", tr.URL()+"/"+code, "")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res.Status, http.StatusMovedPermanently; got != want {
			t.Fatalf("GET %s/%s = %d, want %d", tr.URL(), code, got, want)
		}
	}
	mustCounts(t, MustPostgres(t, n, s), map[string]int64{code: 2}, 10*time.Second)
}
