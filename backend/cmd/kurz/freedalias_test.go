package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

// statsTotal is the total visits the key reads for code (-1 when not 200).
func statsTotal(tb testing.TB, base, key, code string) int {
	tb.Helper()
	res := doKey(tb, "GET", base+"/api/links/"+code+"/stats", key, "")
	if res.Status != http.StatusOK {
		return -1
	}
	n, _ := res.Body["total"].(float64)
	return int(n)
}

// waitStatsTotal waits until the key reads want visits of code.
func waitStatsTotal(tb testing.TB, base, key, code string, want int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for got := statsTotal(tb, base, key, code); got != want; got = statsTotal(tb, base, key, code) {
		if time.Now().After(deadline) {
			tb.Fatalf("visits of %s = %d, want %d", code, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A deleted link takes its visits and reports with it: an author who takes
// the freed alias reads none of the old owner's, not even visits of the old
// link folded after the delete.
func TestFreedAliasShowsNothingOfTheOldLink(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t) // a stream of its own
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	first, second := MustCreateRoleKey(t, db, "first", "author"), MustCreateRoleKey(t, db, "second", "author")
	const alias = "freed-alias"
	create := func(key string) {
		t.Helper()
		if res := doKey(t, "POST", b.URL+"/api/shorten", key, `{"url":"https://example.com/freed","alias":"`+alias+`"}`); res.Status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", alias, res.Status, res.Raw)
		}
	}
	create(first)
	for i := 0; i < 3; i++ {
		if res := do(t, "GET", b.URL+"/"+alias, "", ""); res.Status != http.StatusMovedPermanently {
			t.Fatalf("visit: %d", res.Status)
		}
	}
	waitStatsTotal(t, b.URL, first, alias, 3)
	if res := do(t, "POST", b.URL+"/api/reports", "application/json", `{"code":"`+alias+`","reason":"spam"}`); res.Status != http.StatusCreated {
		t.Fatalf("report: %d %s", res.Status, res.Raw)
	}
	if res := doKey(t, "DELETE", b.URL+"/api/links/"+alias, first, ""); res.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.Status, res.Raw)
	}
	deletedAt := time.Now()
	time.Sleep(3 * time.Second) // the new link is created later than the clocks' allowed skew after the old visit below
	create(second)

	if got := statsTotal(t, b.URL, second, alias); got != 0 {
		t.Errorf("the new owner reads %d visits, want 0", got)
	}
	res := doKey(t, "GET", b.URL+"/api/reports", second, "")
	if got, _ := res.Body["reports"].([]any); len(got) != 0 {
		t.Errorf("the new owner reads %d reports of the old link, want 0: %s", len(got), res.Raw)
	}
	// A visit of the old link that reaches the fold only now (pushed late by an edge).
	late := link.AppendVisit(nil, link.Visit{Code: alias, At: deletedAt, Addr: "192.0.2.1", UserAgent: "Mozilla/5.0 Firefox/130.0"})
	rc := MustRedisClient(t, rd)
	if err := rc.Eval(context.Background(), link.AddVisitsScript, []string{link.VisitsKey, link.VisitsPushedKey, link.VisitsDroppedKey},
		60000, "late", link.VisitsStreamCap, 1, string(late)).Err(); err != nil {
		t.Fatal(err)
	}
	if res := do(t, "GET", b.URL+"/"+alias, "", ""); res.Status != http.StatusMovedPermanently { // the new link's own
		t.Fatalf("visit: %d", res.Status)
	}
	waitStatsTotal(t, b.URL, second, alias, 1)
	time.Sleep(500 * time.Millisecond) // folded by now, both of them
	if got := statsTotal(t, b.URL, second, alias); got != 1 {
		t.Errorf("the new owner reads %d visits, want its own 1", got)
	}
	all := doKey(t, "GET", b.URL+"/api/reports", MustCreateRoleKey(t, db, "admin", "admin"), "")
	if got, _ := all.Body["reports"].([]any); len(got) != 1 {
		t.Errorf("an admin reads %d reports, want the old link's 1 (kept for moderation)", len(got))
	}
}
