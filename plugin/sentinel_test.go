package plugin

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kurzlink/kurz/link"
)

// mustStartSentinel starts a Sentinel watching master as "kurz", quorum 1.
func mustStartSentinel(tb testing.TB, master *testRedis) *testRedis {
	tb.Helper()
	dir := tb.TempDir()
	port := freePort(tb)
	conf := filepath.Join(dir, "sentinel.conf")
	host, mport, _ := strings.Cut(master.addr, ":")
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor kurz %s %s 1\n"+
		"sentinel down-after-milliseconds kurz 1000\nsentinel failover-timeout kurz 10000\n", port, dir, host, mport)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	s := &testRedis{addr: "127.0.0.1:" + strconv.Itoa(port), args: []string{master.args[0], conf, "--sentinel"}}
	s.start(tb)
	tb.Cleanup(s.stop)
	return s
}

// mustStartSentinelSetup starts a master holding code → target, its replica
// and a Sentinel, and waits until the replica has it and the Sentinel knows it.
func mustStartSentinelSetup(tb testing.TB, code, target string) (master, replica, sentinel *testRedis) {
	tb.Helper()
	master = mustStartRedis(tb)
	host, port, _ := strings.Cut(master.addr, ":")
	replica = mustStartRedis(tb, "--replicaof", host, port)
	sentinel = mustStartSentinel(tb, master)
	mustDo(tb, master.addr, "SET", "code:"+code, target)
	waitFor(tb, 10*time.Second, "replica in sync and known to the sentinel", func() bool {
		return tryDo(replica.addr, "GET", "code:"+code).val != "" && strings.Contains(tryDo(sentinel.addr, "INFO", "sentinel").val, "slaves=1")
	})
	return master, replica, sentinel
}

// waitFor polls check until it is true or the timeout ends.
func waitFor(tb testing.TB, timeout time.Duration, what string, check func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !check() {
		if time.Since(start) > timeout {
			tb.Fatalf("%s: not after %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func tryDo(addr string, args ...string) *call {
	c := newRedisClient(redisOptions{addr: addr, dialTimeout: time.Second, readTimeout: time.Second, cooldown: time.Millisecond})
	cl, err := c.do(args...)
	if c.connected() {
		c.reset()
	}
	if err != nil {
		return &call{err: err}
	}
	return cl
}

// The edge finds the master through Sentinel, follows a failover without a
// restart, and counts on the new master.
func TestSentinelFailover(t *testing.T) {
	master, replica, sentinel := mustStartSentinelSetup(t, "tSen001", "https://example.com/sentinel")

	cfg := testConfig("", "41s")
	cfg.SentinelAddresses = []string{sentinel.addr}
	cfg.MasterName = "kurz"
	cfg.DisableHotCache = true
	h, _ := mustNewConnected(t, cfg)
	if got := serve(h, "GET", "/tSen001").Code; got != http.StatusMovedPermanently {
		t.Fatalf("through Sentinel = %d, want 301", got)
	}

	master.stop() // SIGKILL
	back := waitFor(t, 20*time.Second, "the edge answering from the new master", func() bool {
		return serve(h, "GET", "/tSen001").Code == http.StatusMovedPermanently
	})
	t.Logf("edge back on Redis %s after the master was killed", back.Round(10*time.Millisecond))
	if role := tryDo(replica.addr, "ROLE"); role.err != nil {
		t.Fatalf("ROLE: %v", role.err)
	}
	// The new master has no replica yet: it may be one that is about to be
	// replaced, so the edge keeps the visit after the kill, applied there,
	// until it has one (and would send it again to the master after it).
	e := h.(*Kurz).edge
	mustHits(t, replica.addr, "tSen001", 2)
	e.mu.Lock()
	kept := len(e.unacked)
	e.mu.Unlock()
	if kept == 0 {
		t.Error("the edge forgot a push that no replica has")
	}
	host, port, _ := strings.Cut(replica.addr, ":")
	mustStartRedis(t, "--replicaof", host, port)
	waitFor(t, 10*time.Second, "the push forgotten once a replica has it", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.unacked) == 0
	})
	mustHits(t, replica.addr, "tSen001", 2) // the visit before the kill and the one after, on the new master, once
	if got, want := h.(*Kurz).edge.statistics(time.Now()).MasterChanges, int64(1); got != want {
		t.Errorf("MasterChanges = %d, want %d: the failover is what the edge's statistics show", got, want)
	}
}

// A master that freezes (SIGSTOP: its connections stay open, nothing is
// answered) is failed over by Sentinel: the edge's invalidation subscription
// must follow the data connection to the new master, or changes made there
// are served stale until the hot cache's TTL.
func TestSubscriptionFollowsAFrozenMastersFailover(t *testing.T) {
	master, replica, sentinel := mustStartSentinelSetup(t, "tFrz001", "https://example.com/before")
	cfg := testConfig("", "1h") // nothing but an invalidation ends the hot entry
	cfg.SentinelAddresses = []string{sentinel.addr}
	cfg.MasterName = "kurz"
	h, _ := mustNewConnected(t, cfg)
	e := h.(*Kurz).edge
	location := func() string { return serve(h, "GET", "/tFrz001").Header().Get("Location") }
	if got := location(); got != "https://example.com/before" {
		t.Fatalf("Location = %q before the failover", got)
	}

	const sigstop, sigcont = 19, 18 // Linux's; Yaegi's syscall has no SIGSTOP
	master.cmd.Process.Signal(signalNumber(sigstop))
	t.Cleanup(func() { master.cmd.Process.Signal(signalNumber(sigcont)) })
	waitFor(t, 30*time.Second, "the replica promoted", func() bool {
		role := tryDo(replica.addr, "ROLE").elems
		return len(role) > 0 && role[0] == "master"
	})
	waitFor(t, 20*time.Second, "the edge on the new master", func() bool {
		location() // lookups move the data connection
		return e.statistics(time.Now()).MasterChanges == 1
	})
	mustDo(t, replica.addr, "SET", "code:tFrz001", "https://example.com/after")
	mustDo(t, replica.addr, "PUBLISH", link.InvalidateChannel, "tFrz001")
	took := waitFor(t, 5*time.Second, "the change served by the edge", func() bool {
		return location() == "https://example.com/after"
	})
	t.Logf("the change was served %s after it was published on the new master", took.Round(10*time.Millisecond))
}
