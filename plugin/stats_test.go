package plugin

import (
	"net/http"
	"testing"
	"time"

	"github.com/kurzlink/kurz/link"
)

// mustEdgeStats waits until the edge's published statistics satisfy done, and returns them.
func mustEdgeStats(tb testing.TB, addr string, e *edge, done func(link.EdgeStats) bool) link.EdgeStats {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last link.EdgeStats
	for {
		c := newRedisClient(redisOptions{addr: addr, dialTimeout: time.Second, readTimeout: time.Second, cooldown: time.Millisecond})
		if cl, err := c.do("GET", link.EdgeStatsKey(e.instance)); err == nil && !cl.isNil {
			s, err := link.ParseEdgeStats(cl.val)
			if err != nil {
				tb.Fatalf("the published statistics do not parse: %v: %q", err, cl.val)
			}
			last = s
			if done(s) {
				c.p.close()
				return s
			}
		}
		if c.connected() {
			c.p.close()
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the published statistics never got there; the last: %+v", last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Each edge publishes what it answered and passed on, exactly, with a TTL.
func TestEdgePublishesItsStatistics(t *testing.T) {
	r := mustStartRedis(t)
	mustDo(t, r.addr, "SET", "code:tSta001", "https://example.com/stats")
	h, next := mustNewConnected(t, testConfig(r.addr, "38s"))
	e := h.(*Kurz).edge
	mustServe(t, h, "tSta001", 5) // the first from Redis, then the hot cache
	for i := 0; i < 2; i++ {
		if got := serve(h, "GET", "/tSta002").Code; got != http.StatusTeapot {
			t.Fatalf("unknown code: status %d, want it passed on", got)
		}
	}
	s := mustEdgeStats(t, r.addr, e, func(s link.EdgeStats) bool { return s.HotAnswers+s.RedisAnswers == 5 && s.PassedMiss == 2 })
	if got, want := s.HotAnswers, int64(4); got != want {
		t.Errorf("HotAnswers = %d, want %d", got, want)
	}
	if got, want := s.RedisAnswers, int64(1); got != want {
		t.Errorf("RedisAnswers = %d, want %d", got, want)
	}
	if got, want := s.HotEntries, int64(1); got != want {
		t.Errorf("HotEntries = %d, want %d", got, want)
	}
	if s.BreakerOpen || s.PassedError != 0 || s.RedisErrors != 0 || next.called != 2 {
		t.Errorf("breaker open %v, passed on for errors %d, Redis errors %d, passed on %d; want false, 0, 0, 2", s.BreakerOpen, s.PassedError, s.RedisErrors, next.called)
	}
	var batches int64
	for _, n := range s.Batch {
		batches += n
	}
	if batches < 3 || s.BatchSum < 3 || len(s.RTT) != len(link.EdgeRTTBounds)+1 {
		t.Errorf("%d batches of %d replies in the histograms (%d RTT buckets), want at least the 3 lookups", batches, s.BatchSum, len(s.RTT))
	}
	ttl := mustDo(t, r.addr, "PTTL", link.EdgeStatsKey(e.instance)).n
	if ttl <= 0 || ttl > link.EdgeStatsTTL.Milliseconds() {
		t.Errorf("PTTL = %d ms, want at most %d", ttl, link.EdgeStatsTTL.Milliseconds())
	}

	t.Run("ErrorsAndTheBreaker", func(t *testing.T) {
		r.stop() // lookups now fail: the breaker opens and requests pass on
		for i := 0; i < 3; i++ {
			serve(h, "GET", "/tSta003")
		}
		got := e.statistics(time.Now())
		if got.PassedError != 3 || !got.BreakerOpen || got.BreakerOpens == 0 {
			t.Errorf("passed on for errors %d, breaker open %v after %d openings; want 3, true, at least 1", got.PassedError, got.BreakerOpen, got.BreakerOpens)
		}
	})
}
