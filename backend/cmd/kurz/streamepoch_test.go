package main

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

// A Redis that lost everything and comes back with a clock behind the old
// one's gives visits stream ids below the cursor of the last fold: they are
// a new stream's, and folded all the same.
func TestVisitsOfANewStreamBelowTheCursorAreFolded(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	key := MustCreateKey(t, db, "ops")
	code := MustShorten(t, b.URL, "https://example.com/stream-epoch")
	for i := 0; i < 2; i++ {
		if res := do(t, "GET", b.URL+"/"+code, "", ""); res.Status != http.StatusMovedPermanently {
			t.Fatalf("visit: %d", res.Status)
		}
	}
	waitStatsTotal(t, b.URL, key, code, 2)

	rc := MustRedisClient(t, rd)
	ctx := context.Background()
	rc.FlushAll(ctx) // Redis lost everything; its clock is now a day behind
	past := time.Now().Add(-24 * time.Hour)
	packed := link.AppendVisit(nil, link.Visit{Code: code, At: time.Now(), Addr: "192.0.2.7", UserAgent: "Mozilla/5.0 Firefox/130.0"})
	if err := rc.XAdd(ctx, &goredis.XAddArgs{Stream: link.VisitsKey, ID: strconv.FormatInt(past.UnixMilli(), 10) + "-1",
		Values: []string{"n", "1", "e", string(packed)}}).Err(); err != nil {
		t.Fatal(err)
	}
	waitStatsTotal(t, b.URL, key, code, 3)
}
