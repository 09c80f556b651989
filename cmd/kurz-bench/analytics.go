package main

import (
	"context"
	"fmt"
	"math/rand"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/link"
)

// benchAgents are the user agents of the folded visits: a few make most traffic.
var benchAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
	"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
}

// foldRate waits until the backends folded what the edge sent, then puts
// visits in batches of link.MaxVisitsPerPush into the stream, as the edges
// send them (this hour; links by Zipf's law like the mix; every visit from
// another address; 50 referrers, 6 user agents), and times the backends
// folding them. One folder works at a time (the cursor's lock), so this is
// one backend's rate.
func (b *bench) foldRate(ctx context.Context, rc *goredis.Client, visits int) (float64, int64, error) {
	conn, err := pgx.Connect(ctx, b.stack.Postgres.URL("kurz"))
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	folded := func() (n int64) {
		conn.QueryRow(ctx, `SELECT visits FROM visit_cursor WHERE id = 1`).Scan(&n)
		return n
	}
	deadline := time.Now().Add(2 * time.Minute)
	for rc.XLen(ctx, link.VisitsKey).Val() > 0 {
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("the backends did not fold the edge's visits in 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	dropped, _ := rc.Get(ctx, link.VisitsDroppedKey).Int64()
	before := folded()
	now := time.Now()
	zipf := rand.NewZipf(rand.New(rand.NewSource(1)), 1.1, 1, uint64(len(b.codes)-1))
	pipe := rc.Pipeline()
	var packed []byte
	for i := 0; i < visits; i++ {
		packed = link.AppendVisit(packed, link.Visit{
			Code: b.codes[zipf.Uint64()], At: now,
			Addr:      fmt.Sprintf("%d.%d.%d.%d", 1+i%223, (i/223)%251, (i/223/251)%241, 1+i%239),
			Referrer:  fmt.Sprintf("https://site%d.example/page", i%50),
			UserAgent: benchAgents[i%len(benchAgents)],
		})
		if (i+1)%link.MaxVisitsPerPush == 0 || i == visits-1 {
			pipe.XAdd(ctx, &goredis.XAddArgs{Stream: link.VisitsKey, Values: []any{"n", (i % link.MaxVisitsPerPush) + 1, "e", packed}})
			packed = nil
		}
	}
	start := time.Now()
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, 0, err
	}
	for folded()-before < int64(visits) {
		if time.Since(start) > 5*time.Minute {
			return 0, 0, fmt.Errorf("folded %d of %d visits in 5 minutes", folded()-before, visits)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return float64(visits) / time.Since(start).Seconds(), dropped, nil
}
