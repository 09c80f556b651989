package plugin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kurzlink/kurz/link"
)

// mustStreamVisits waits until the visits stream holds want visits and returns them.
func mustStreamVisits(tb testing.TB, addr string, want int) []link.Visit {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := streamVisits(tb, addr)
		if len(got) >= want || time.Now().After(deadline) {
			if len(got) != want {
				tb.Fatalf("%d visits in the stream, want %d: %+v", len(got), want, got)
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// streamVisits returns the visits in the stream now.
func streamVisits(tb testing.TB, addr string) []link.Visit {
	tb.Helper()
	var got []link.Visit
	elems := mustDo(tb, addr, "XRANGE", link.VisitsKey, "-", "+").elems
	for i := 0; i+1 < len(elems); i++ {
		if elems[i] == "e" {
			link.ParseVisits(elems[i+1], func(v link.Visit) { got = append(got, v) })
		}
	}
	return got
}

func TestRecordsVisits(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		r := mustStartRedis(t)
		mustDo(t, r.addr, "SET", "code:tVis001", "https://example.com/visited")
		h, _ := mustNewConnected(t, testConfig(r.addr, "16s"))
		for i := 0; i < 4; i++ { // one from Redis, three from the hot cache
			req := httptest.NewRequest("GET", "/tVis001", nil)
			req.RemoteAddr = "[2001:db8::7]:51000"
			req.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)\tMobile")
			req.Header.Set("Referer", "https://news.example/story")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 301 {
				t.Fatalf("status = %d", rec.Code)
			}
		}
		serve(h, "HEAD", "/tVis001") // not a visit: uptime monitors use HEAD
		got := mustStreamVisits(t, r.addr, 4)
		for _, v := range got {
			if v.Code != "tVis001" || v.Addr != "2001:db8::7" || v.Referrer != "https://news.example/story" ||
				v.UserAgent != "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile" || time.Since(v.At) > time.Minute {
				t.Errorf("visit = %+v", v)
			}
		}
	})
	t.Run("ErrDisabled", func(t *testing.T) {
		r := mustStartRedis(t)
		mustDo(t, r.addr, "SET", "code:tVis002", "https://example.com/not-recorded")
		cfg := testConfig(r.addr, "17s")
		cfg.DisableAnalytics = true
		h, _ := mustNewConnected(t, cfg)
		serve(h, "GET", "/tVis002")
		serve(h, "GET", "/tVis002")
		time.Sleep(200 * time.Millisecond) // four flush intervals
		if n := mustDo(t, r.addr, "XLEN", link.VisitsKey).n; n != 0 {
			t.Errorf("visits stream has %d entries with analytics off", n)
		}
	})
	t.Run("FullStreamCountsDropped", func(t *testing.T) {
		r := mustStartRedis(t)
		mustDo(t, r.addr, "SET", "code:tVis003", "https://example.com/full")
		for i := 0; i < link.VisitsStreamCap; i++ {
			mustDo(t, r.addr, "XADD", link.VisitsKey, "*", "n", "0", "e", "")
		}
		h, _ := mustNewConnected(t, testConfig(r.addr, "18s"))
		for i := 0; i < 3; i++ {
			serve(h, "GET", "/tVis003")
		}
		deadline := time.Now().Add(5 * time.Second)
		for mustDo(t, r.addr, "GET", link.VisitsDroppedKey).val != "3" {
			if time.Now().After(deadline) {
				t.Fatalf("%s = %q, want 3", link.VisitsDroppedKey, mustDo(t, r.addr, "GET", link.VisitsDroppedKey).val)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// The backends read the visitor's address from the edge: a client cannot set it.
func TestPassesTheClientAddressOn(t *testing.T) {
	r := mustStartRedis(t)
	var got []string
	next := http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		got = append(got, req.Header.Get(link.ClientAddrHeader))
		rw.WriteHeader(http.StatusNotFound)
	})
	h, err := New(context.Background(), next, testConfig(r.addr, "19s"), "kurz-test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, remote, xff, want string }{
		{"Peer", "198.51.100.4:4000", "", "198.51.100.4"},
		{"TrustedProxysLastEntry", "127.0.0.1:4000", "203.0.113.1, 203.0.113.9", "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			req := httptest.NewRequest("GET", "/tMiss01", nil)
			req.RemoteAddr = tc.remote
			req.Header.Set(link.ClientAddrHeader, "6.6.6.6") // sent by the client: replaced
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("the backend saw %s %v, want %q", link.ClientAddrHeader, got, tc.want)
			}
		})
	}
}

// mustInFlight waits until the edge's Redis connection has n commands written or queued.
func mustInFlight(tb testing.TB, e *edge, n int) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := 0
		e.writer.mu.Lock()
		p := e.writer.p
		e.writer.mu.Unlock()
		if p != nil {
			p.mu.Lock()
			got = (len(p.inflight) + len(p.queued)) / 2 // a push and ROLE (no replica: no WAIT)
			p.mu.Unlock()
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d pushes in flight, want %d", got, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// The drain and the loop both flush visits after SIGTERM: two flushers of
// the same batches (pushAll takes them one after the other) remove each
// once, never the batch after it, and never panic on a queue the other emptied.
func TestConcurrentVisitFlushesLoseNoBatch(t *testing.T) {
	for _, batches := range []int{1, 2} {
		t.Run(strconv.Itoa(batches)+"Batches", func(t *testing.T) {
			r := mustStartRedis(t)
			mustDo(t, r.addr, "SET", "code:tVcf001", "https://example.com/flushed")
			cfg := testConfig(r.addr, "3"+strconv.Itoa(batches)+"m")
			cfg.FlushInterval = "1h" // only the flushers below
			h, _ := mustNewConnected(t, cfg)
			e := h.(*Kurz).edge
			want := 0
			for b := 0; b < batches; b++ {
				mustServe(t, h, "tVcf001", 2+b)
				want += 2 + b
				e.collectVisits()
				e.mu.Lock()
				e.filling = nil // the next visits start a batch of their own
				e.mu.Unlock()
			}
			mustDo(t, r.addr, "CLIENT", "PAUSE", "400", "WRITE") // the second flusher takes the batches before the first hears back
			var wg sync.WaitGroup
			panics := make(chan any, 2)
			for i := 0; i < 2; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() {
						if v := recover(); v != nil {
							panics <- v
						}
					}()
					e.flushVisits()
				}()
				if i == 0 {
					mustInFlight(t, e, 1)
				}
			}
			wg.Wait()
			close(panics)
			for v := range panics {
				t.Fatalf("a flusher panicked: %v", v)
			}
			e.flushVisits() // whatever is left
			mustStreamVisits(t, r.addr, want)
			e.mu.Lock()
			left, queued := len(e.visitBatches), e.queuedVisits
			e.mu.Unlock()
			if left != 0 || queued != 0 {
				t.Errorf("%d batches and %d visits left queued, want none", left, queued)
			}
		})
	}
}
