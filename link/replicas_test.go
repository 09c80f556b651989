package link_test

import (
	"testing"
	"time"

	"github.com/kurzlink/kurz/link"
)

func TestReplicaQuorum(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	for _, tt := range []struct {
		name      string
		sentinels bool
		seen      []int // one observation a second
		want      int
	}{
		{"OKNoneWithoutSentinels", false, nil, 0},
		{"OKOneWithSentinels", true, nil, 1},
		{"OKOneWithSentinelsAndNoReplica", true, []int{0, 0}, 1},
		{"OKAsManyAsSeen", false, []int{1, 2}, 2},
		{"OKALeftReplicaStillCounts", true, []int{2, 2, 1, 1, 1}, 2},
		{"OKForgottenAfterTheMemory", true, []int{2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 1},
		{"OKWithoutSentinelsDownToNone", false, []int{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0},
		{"OKBackToWholeStartsOver", true, []int{2, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := link.ReplicaQuorum{Sentinels: tt.sentinels}
			for i, n := range tt.seen {
				q.Saw(n, start.Add(time.Duration(i)*time.Second))
			}
			if got := q.Need(); got != tt.want {
				t.Errorf("Need() = %d, want %d", got, tt.want)
			}
		})
	}
}

// A sender that wrote nothing for a while counts the time over an unbroken
// run of its own sightings of fewer replicas.
func TestReplicaQuorumQuietSender(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	q := link.ReplicaQuorum{Sentinels: true}
	q.Saw(2, start)
	q.Saw(1, start.Add(10*time.Second))
	q.Saw(1, start.Add(time.Minute)) // the first write after a quiet while
	if got, want := q.Need(), 2; got != want {
		t.Errorf("Need() after a quiet minute = %d, want %d", got, want)
	}
	q.Saw(1, start.Add(time.Minute+20*time.Second)) // a gap: the run starts again
	if got, want := q.Need(), 2; got != want {
		t.Errorf("Need() after another quiet while = %d, want %d", got, want)
	}
	for at := 21 * time.Second; at <= 32*time.Second; at += time.Second {
		q.Saw(1, start.Add(time.Minute+at))
	}
	if got, want := q.Need(), 1; got != want {
		t.Errorf("Need() once fewer were seen long enough = %d, want %d", got, want)
	}
}
