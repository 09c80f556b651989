package redis_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kurzlink/kurz/backend/redis"
)

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
	cache, err := redis.Open("redis://"+ln.Addr().String()+"/0", 100*time.Millisecond, nil)
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
