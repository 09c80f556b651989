package plugin

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// mustHits waits until the hits field of code is want, then checks that it stays so
// (a late duplicate would raise it).
func mustHits(tb testing.TB, addr, code string, want int64) {
	tb.Helper()
	c := newRedisClient(redisOptions{addr: addr, dialTimeout: time.Second, readTimeout: time.Second, cooldown: time.Millisecond})
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := ""
		if cl, err := c.do("HGET", "hits", code); err == nil {
			got = cl.val
		}
		if got == strconv.FormatInt(want, 10) {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("hits %s = %q, want %d", code, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(600 * time.Millisecond)
	if got := mustDo(tb, addr, "HGET", "hits", code).val; got != strconv.FormatInt(want, 10) {
		tb.Fatalf("hits %s = %q later, want %d: counted twice", code, got, want)
	}
}

// mustServe asks for code n times and wants a redirect each time.
func mustServe(tb testing.TB, h http.Handler, code string, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		if got := serve(h, "GET", "/"+code).Code; got != http.StatusMovedPermanently {
			tb.Fatalf("GET /%s = %d, want 301", code, got)
		}
	}
}

// mustStalled waits until Redis stops answering (a stall began): a PING times out.
func mustStalled(tb testing.TB, addr string) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		c := newRedisClient(redisOptions{addr: addr, dialTimeout: time.Second, readTimeout: 40 * time.Millisecond, cooldown: time.Millisecond})
		_, err := c.do("PING")
		if c.connected() {
			c.reset()
		}
		if isTimeout(err) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal("Redis never stalled")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A flush whose reply comes after the edge gave up was applied by Redis all the
// same: sending it again must add nothing.
func TestFlushExactlyOnceWhenRedisIsSlow(t *testing.T) {
	for _, tc := range []struct {
		name, ttl string
		stall     []string
	}{
		{"DebugSleep", "31s", []string{"DEBUG", "SLEEP", "0.5"}},
		{"ClientPause", "36s", []string{"CLIENT", "PAUSE", "500", "ALL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustStartRedis(t)
			code := "tSlw" + tc.name[:3]
			mustDo(t, r.addr, "SET", "code:"+code, "https://example.com/slow")
			cfg := testConfig(r.addr, tc.ttl)
			cfg.ReadTimeout = shortReadTimeout // the stall outlasts it
			h, _ := mustNewConnected(t, cfg)
			e := h.(*Kurz).edge
			mustServe(t, h, code, 1)
			mustHits(t, r.addr, code, 1)

			stalled := make(chan struct{})
			go func() {
				defer close(stalled)
				c := newRedisClient(redisOptions{addr: r.addr, dialTimeout: time.Second, readTimeout: 2 * time.Second, cooldown: time.Millisecond})
				c.do(tc.stall...)
			}()
			mustStalled(t, r.addr)
			mustServe(t, h, code, 4) // from the hot cache; flushed while Redis stalls
			<-stalled
			mustHits(t, r.addr, code, 5)
			if got := e.snapshot().flushErrors; got == 0 {
				t.Errorf("flushErrors = 0: the flush did not meet the stall, the test proves nothing")
			}
		})
	}
}

// A field of hits that is not a number is replaced; other codes count on.
func TestMalformedHitsFieldsAreReplaced(t *testing.T) {
	r := mustStartRedis(t)
	for _, code := range []string{"tMal001", "tMal002", "tMal003"} {
		mustDo(t, r.addr, "SET", "code:"+code, "https://example.com/"+code)
	}
	mustDo(t, r.addr, "HSET", "hits", "tMal001", "not a number")
	mustDo(t, r.addr, "HSET", "hits", "tMal002", "9223372036854775807")
	h, _ := mustNewConnected(t, testConfig(r.addr, "32s"))
	mustServe(t, h, "tMal001", 2)
	mustServe(t, h, "tMal002", 3)
	mustServe(t, h, "tMal003", 4)
	mustHits(t, r.addr, "tMal001", 2)
	mustHits(t, r.addr, "tMal002", 3)
	mustHits(t, r.addr, "tMal003", 4)
	if got, want := h.(*Kurz).edge.snapshot().replacedFields, int64(2); got != want {
		t.Errorf("replacedFields = %d, want %d", got, want)
	}
	t.Run("WrongType", func(t *testing.T) {
		mustDo(t, r.addr, "DEL", "hits")
		mustDo(t, r.addr, "SET", "hits", "a string")
		mustServe(t, h, "tMal003", 5)
		mustHits(t, r.addr, "tMal003", 5)
	})
}

// Redis closes idle connections (its timeout setting, or a NAT): the next
// lookup dials again at once and is answered, the breaker stays closed.
func TestIdleConnectionClosedByServer(t *testing.T) {
	r := mustStartRedis(t, "--timeout", "1")
	mustDo(t, r.addr, "SET", "code:tIdle01", "https://example.com/idle")
	cfg := testConfig(r.addr, "33s")
	cfg.DisableHotCache = true
	h, next := mustNewConnected(t, cfg)
	e := h.(*Kurz).edge
	for i := 0; i < 3; i++ {
		time.Sleep(2500 * time.Millisecond) // past the server's timeout and the flush of the last hit
		if got := serve(h, "GET", "/tIdle01").Code; got != http.StatusMovedPermanently {
			e.redis.mu.Lock()
			failures, open, dialing := e.redis.failures, e.redis.openUntil, e.redis.dialing
			e.redis.mu.Unlock()
			v := mustDo(t, r.addr, "GET", "code:tIdle01")
			t.Fatalf("lookup %d after an idle period = %d, want 301 (breaker failures %d, open until %s, dialing %v; stats %+v; the key holds %q)",
				i, got, failures, open.Format("15:04:05.000"), dialing, e.snapshot(), v.val)
		}
	}
	e.redis.mu.Lock()
	failures := e.redis.failures
	e.redis.mu.Unlock()
	if failures != 0 || next.called != 0 {
		t.Errorf("breaker failures = %d, passed on = %d; want 0 and 0", failures, next.called)
	}
}

// A value longer than any target is refused without being read whole.
func TestOverlongValueIsRefused(t *testing.T) {
	r := mustStartRedis(t)
	mustDo(t, r.addr, "SET", "code:tLong01", "https://example.com/"+strings.Repeat("a", 10<<20))
	mustDo(t, r.addr, "SET", "code:tLong02", "https://example.com/fine")
	cfg := testConfig(r.addr, "34s")
	cfg.DisableHotCache = true
	h, next := mustNewConnected(t, cfg)
	const rounds = 10 // each drops the connection: the next lookup must dial again, never meet the dead one
	for i := 0; i < rounds; i++ {
		if got := serve(h, "GET", "/tLong01").Code; got != http.StatusTeapot {
			t.Fatalf("round %d: overlong value: status = %d, want it passed on", i, got)
		}
		if got := serve(h, "GET", "/tLong02").Code; got != http.StatusMovedPermanently {
			t.Fatalf("round %d: next lookup = %d, want 301", i, got)
		}
	}
	if got, want := h.(*Kurz).edge.snapshot().badValues, int64(rounds); got != want || next.called != rounds {
		t.Errorf("badValues = %d, passed on %d; want %d and %d", got, next.called, want, rounds)
	}
}

// Commands from many goroutines each get their reply within the deadline: no
// command waits for another to arrive.
func TestPipelineNeverStrandsACommand(t *testing.T) {
	r := mustStartRedis(t)
	c := newRedisClient(redisOptions{addr: r.addr, dialTimeout: time.Second, readTimeout: time.Second, cooldown: time.Millisecond})
	if _, err := c.do("PING"); err != nil { // callers do not wait for a dial under way
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				cl, err := c.do("ECHO", strconv.Itoa(g*1000+i))
				if err != nil || cl.val != strconv.Itoa(g*1000+i) {
					mu.Lock()
					if failed == 0 {
						t.Logf("first failure: %v %+v", err, cl)
					}
					failed++
					mu.Unlock()
				}
				if i%10 == 0 {
					time.Sleep(time.Millisecond) // let the connection go idle now and then
				}
			}
		}(g)
	}
	wg.Wait()
	if failed != 0 {
		t.Errorf("%d of 2000 commands failed or got another's reply", failed)
	}
}

// A reply read before an invalidation is not cached after it.
func TestHotCacheRefusesAReplyOlderThanADrop(t *testing.T) {
	h := newHotCache(10, 100)
	gen := h.generation()
	h.drop("tGen001")
	h.put("tGen001", []string{"https://example.com/old"}, gen)
	if got := h.get("tGen001"); got != nil {
		t.Errorf("get = %v, want nothing cached", got)
	}
	hits := map[string]int64{}
	h.takeHits(hits)
	if got, want := hits["tGen001"], int64(1); got != want {
		t.Errorf("hits = %d, want %d (the visit still counts)", got, want)
	}
}

// A draining edge (SIGTERM) passes redirects on and flushes every hit it served.
func TestDrainFlushesEverything(t *testing.T) {
	r := mustStartRedis(t)
	mustDo(t, r.addr, "SET", "code:tDrn001", "https://example.com/drain")
	cfg := testConfig(r.addr, "35s")
	cfg.FlushInterval = "1h" // only the drain flushes
	h, next := mustNewConnected(t, cfg)
	mustServe(t, h, "tDrn001", 7)
	go h.(*Kurz).edge.drain()
	mustHits(t, r.addr, "tDrn001", 7)
	if got := serve(h, "GET", "/tDrn001").Code; got != http.StatusTeapot || next.called != 1 {
		t.Errorf("while draining: status %d, passed on %d; want 418 and 1", got, next.called)
	}
}

func TestParseReplyLimits(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"OKBulk", "$3\r\nabc\r\n", true},
		{"OKNested", "*2\r\n*1\r\n:1\r\n$-1\r\n", true},
		{"ErrHugeBulk", "$3000000000\r\n", false},
		{"ErrBulkOverCap", "$" + strconv.Itoa(maxBulkBytes+1) + "\r\n", false},
		{"ErrHugeArray", "*3000000000\r\n", false},
		{"ErrDeepNesting", strings.Repeat("*1\r\n", maxReplyDepth+1) + ":1\r\n", false},
		{"ErrNegativeLength", "$-5\r\n", false},
		{"ErrBadTerminator", "$3\r\nabcXY", false},
		{"ErrNoCR", "+OK\n", false},
		{"ErrUnknownType", "!3\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := readReply(bufio.NewReader(strings.NewReader(tc.in)), &call{})
			if got := err == nil; got != tc.ok {
				t.Errorf("readReply(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

// untilDone calls work again and again until done is closed.
func untilDone(done chan struct{}, work func()) {
	for {
		select {
		case <-done:
			return
		default:
		}
		work()
	}
}

// Two flushers at once (the drain and the loop, after SIGTERM) while hits keep
// coming and Redis stalls past the deadline now and then: every hit is added
// exactly once.
func TestConcurrentFlushesCountOnce(t *testing.T) {
	r := mustStartRedis(t)
	mustDo(t, r.addr, "SET", "code:tCon001", "https://example.com/concurrent")
	cfg := testConfig(r.addr, "37s")
	cfg.FlushInterval = "1h"           // only the flushers below
	cfg.ReadTimeout = shortReadTimeout // the stalls outlast it
	h, _ := mustNewConnected(t, cfg)
	e := h.(*Kurz).edge
	const served = 600
	var wg sync.WaitGroup
	done := make(chan struct{})
	flushing := func() { e.collect(); e.flush() }
	stalling := func() { // Redis stalls past the read deadline now and then: flushes fail and are retried
		time.Sleep(120 * time.Millisecond)
		tryDo(r.addr, "CLIENT", "PAUSE", "150", "ALL")
	}
	for _, work := range []func(){flushing, flushing, stalling} {
		wg.Add(1)
		go func(work func()) { defer wg.Done(); untilDone(done, work) }(work) // an argument: Yaegi's loop variables are shared
	}
	for i := 0; i < served; i++ {
		mustServe(t, h, "tCon001", 1)
		time.Sleep(2 * time.Millisecond)
	}
	close(done)
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for { // flush what is left, past the breaker's cooldown
		e.collect()
		e.flush()
		e.mu.Lock()
		left := len(e.unacked) > 0 || len(e.pending) > 0
		e.mu.Unlock()
		if !left || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustHits(t, r.addr, "tCon001", served)
}

// The watchdog fails only a batch it saw in flight too long on the same
// connection: a new connection's first batch, numbered like the last one it
// watched on the old connection, is not overdue.
func TestWatchdogIsNotFooledByANewConnection(t *testing.T) {
	c := newRedisClient(redisOptions{addr: "127.0.0.1:1", dialTimeout: 10 * time.Millisecond, readTimeout: 10 * time.Millisecond, cooldown: time.Millisecond})
	newPipe := func() *pipe {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		p := &pipe{conn: a, client: c, batches: 1, inflight: []*call{newCall()}}
		p.cond = sync.NewCond(&p.mu)
		return p
	}
	old := newPipe()
	c.p = old
	c.watchdog() // watches batch 1 of the old connection
	old.mu.Lock()
	old.inflight = nil
	old.mu.Unlock()
	c.p = nil // the old connection closed; later a new one sends its first batch
	time.Sleep(2 * c.replyDeadline())
	fresh := newPipe()
	c.p = fresh
	c.watchdog()
	fresh.mu.Lock()
	dead := fresh.dead
	fresh.mu.Unlock()
	if dead {
		t.Error("the watchdog failed a new connection's first batch as overdue")
	}
}

// A caller woken by a connection's failure must find the client has forgotten
// that connection: asking again then dials a new one instead of meeting the
// dead one (the Yaegi flake of TestOverlongValueIsRefused: 418 after a refusal).
func TestFailedConnectionIsForgottenBeforeCallersWake(t *testing.T) {
	c := newRedisClient(redisOptions{addr: "127.0.0.1:1", dialTimeout: time.Second, readTimeout: time.Second, cooldown: time.Millisecond})
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	p := &pipe{conn: a, client: c}
	p.cond = sync.NewCond(&p.mu)
	cl := newCall()
	p.inflight = []*call{cl}
	c.p = p

	c.mu.Lock() // the client cannot forget p until this is released
	failed := make(chan struct{})
	go func() { defer close(failed); p.fail(errClosed) }()
	select {
	case <-cl.done:
		t.Error("a caller was woken while the client still held the failed connection")
	case <-time.After(100 * time.Millisecond):
	}
	c.mu.Unlock()
	<-cl.done
	if c.connected() {
		t.Error("after the wake-up the client still holds the failed connection")
	}
	<-failed
}

// Redis under memory pressure evicts keys with a TTL (volatile-lru, the
// policy kurz asks for): what remembers a pushed batch must not be one of
// them, or a batch resent after a lost reply is counted twice.
func TestPushedBatchesSurviveEviction(t *testing.T) {
	r := mustStartRedis(t, "--maxmemory", "4mb", "--maxmemory-policy", "volatile-lru")
	mustDo(t, r.addr, "SET", "code:tEvi001", "https://example.com/evicted")
	cfg := testConfig(r.addr, "39s")
	cfg.FlushInterval = "1h" // only the flushes below
	h, _ := mustNewConnected(t, cfg)
	e := h.(*Kurz).edge
	mustServe(t, h, "tEvi001", 3)
	e.collect()
	batches, _ := e.unackedBatches() // the batch a flush sends: its reply is lost below
	b := batches[0]
	e.flush()
	mustHits(t, r.addr, "tEvi001", 3)

	// Caches fill Redis past maxmemory: it evicts volatile keys to make room.
	value := strings.Repeat("x", 64<<10)
	for i := 0; i < 200; i++ {
		tryDo(r.addr, "SET", "cache:"+strconv.Itoa(i), value, "PX", "3600000")
	}
	e.mu.Lock()
	b.write.on = nil // as if the reply had been lost: the same batch goes again
	e.unacked = []*hitBatch{b}
	e.mu.Unlock()
	e.flush()
	mustHits(t, r.addr, "tEvi001", 3)
}

// A master that applies pushes but has lost its replica (a failover's
// aftermath: the old master still resyncing) answers every push "not
// replicated" for up to link.ReplicasRememberedFor. What the edge serves
// meanwhile must still reach the master, batch after batch: a Traefik
// restarted then would otherwise exit with seconds of hits and visits that
// were never sent (the soak lost 77,221 counts so in CI).
func TestUnreplicatedPushesDoNotHoldBackNewOnes(t *testing.T) {
	master := mustStartRedis(t)
	replica := mustStartRedis(t)
	mustDo(t, replica.addr, "REPLICAOF", "127.0.0.1", strings.TrimPrefix(master.addr, "127.0.0.1:"))
	mustDo(t, master.addr, "SET", "code:tUnr001", "https://example.com/unreplicated")
	cfg := testConfig(master.addr, "41s")
	cfg.FlushInterval = "1h" // only the flushes below
	h, _ := mustNewConnected(t, cfg)
	e := h.(*Kurz).edge
	deadline := time.Now().Add(5 * time.Second)
	for { // the edge has seen the replica: pushes wait for it from now on
		mustServe(t, h, "tUnr001", 1)
		e.collect()
		e.flush()
		e.collectVisits()
		e.flushVisits()
		e.writer.mu.Lock()
		need := e.writer.quorum.Need()
		e.writer.mu.Unlock()
		if need == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the edge never saw the master's replica")
		}
		time.Sleep(50 * time.Millisecond)
	}
	served := mustDo(t, master.addr, "HGET", "hits", "tUnr001").val
	n, _ := strconv.Atoi(served)
	visits := len(streamVisits(t, master.addr))
	replica.stop()

	for round := 1; round <= 3; round++ { // each push is applied, and answered "not replicated"
		mustServe(t, h, "tUnr001", round)
		n += round
		visits += round
		e.collect()
		e.flush()
		e.collectVisits()
		e.flushVisits()
	}
	if got, want := mustDo(t, master.addr, "HGET", "hits", "tUnr001").val, strconv.Itoa(n); got != want {
		t.Errorf("hits on the master = %s, want %s: served hits waited behind an unreplicated push", got, want)
	}
	if got, want := len(streamVisits(t, master.addr)), visits; got != want {
		t.Errorf("visits on the master = %d, want %d: served visits waited behind an unreplicated push", got, want)
	}
}
