package partition_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/internal/testenv"
)

// A master frozen longer than Sentinel's down-after-milliseconds (1 s) is
// replaced while its connections stay open: the pushes and folds queued in
// them run when it thaws, on a master that is no longer one and drops what
// it takes once demoted. Every 301 served must still be counted once: a push
// or fold waits for as many replicas as the master had (link.ReplicaQuorum),
// at least one with Sentinels. The first freezes last until the failover is
// complete; the others end while it may be under way.
func TestFrozenMasterReplacedCountsOnce(t *testing.T) {
	n := testenv.MustNetwork(t)
	s := testenv.NewHAStack(t, env, testenv.OnNetwork(n))
	t.Cleanup(func() { keepLogs(t, s.StateDir, "frozen") })
	c := newClient(n, 30*time.Second)
	var codes []string
	for i := 0; i < 20; i++ {
		codes = append(codes, c.MustShorten(t, s.Traefik.URL(), fmt.Sprintf("https://example.com/partition/frozen/%d", i)))
	}
	f := &faults{t: t, n: n, s: s}
	l := newLedger()
	stop := startLoad(8, func(w, i int) {
		l.visit(c, s.Traefiks[w%2].URL(), codes[(w*7+i)%len(codes)])
	})
	defer stop()
	for round := 0; round < 2; round++ {
		time.Sleep(time.Second)
		frozen := f.master()
		if err := frozen.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 30*time.Second, func() error {
			if m := f.master(); m == frozen {
				return fmt.Errorf("the Sentinels still name the frozen %s", frozen.Addr())
			}
			return nil
		})
		waitWhole(t, f, frozen)
		if err := frozen.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		waitWhole(t, f, nil)
	}
	// Thawed while Sentinel may be failing it over: one replica promoted, the
	// other still attached and acknowledging for a moment.
	for _, freeze := range []time.Duration{1200 * time.Millisecond, 1600 * time.Millisecond, 2000 * time.Millisecond} {
		time.Sleep(time.Second)
		frozen := f.master()
		if err := frozen.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(freeze)
		if err := frozen.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		waitWhole(t, f, nil)
	}
	time.Sleep(time.Second)
	stop()
	served, failures, first, _ := l.snapshot()
	t.Logf("%d redirects not answered 301 (first: %s)", failures, first)
	db := MustPostgres(t, n, s)
	t.Cleanup(func() { logCountState(t, n, s, db, served) })
	mustCounts(t, db, served, 30*time.Second)
}

// waitWhole waits until the master the Sentinels name has every other
// Redis but except (nil for none) as an online replica.
func waitWhole(t *testing.T, f *faults, except *stack.Redis) {
	t.Helper()
	want := len(f.s.RedisReplicas)
	if except != nil {
		want--
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		m := f.master()
		role, err := MustRedis(t, f.n, m.Addr()).Do(context.Background(), "ROLE").Slice()
		if err != nil || role[0] != "master" {
			return fmt.Errorf("%s: ROLE %v %v", m.Addr(), role, err)
		}
		if replicas, _ := role[2].([]any); len(replicas) != want {
			return fmt.Errorf("%s has %d replicas online, want %d", m.Addr(), len(replicas), want)
		}
		return nil
	})
}
