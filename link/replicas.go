package link

import "time"

// ReplicasRememberedFor is how long a replica that left its master still
// counts towards the replicas a write must reach.
const ReplicasRememberedFor = 10 * time.Second

// ReplicaQuorum is how many replicas a push or a fold must reach before its
// sender forgets it: as many as the master had when last seen whole, until
// fewer have been seen for ReplicasRememberedFor, and at least one with
// Sentinels. A replica that has just left may be the one Sentinel promoted
// while the master was frozen; what only the others took is dropped when
// they follow it. The time counts from this sender's own first sight of
// fewer: a sender that wrote nothing for a while must not take a count it
// sees after a failover as settled. Edges and backends share it; the caller
// serialises its use.
type ReplicaQuorum struct {
	Sentinels bool // a master without any replica is never trusted
	peak      int
	lowSince  time.Time // first seen with fewer than peak, in an unbroken run of sightings
	lastSeen  time.Time
}

// replicaSightingGap breaks a run of sightings: a sender retries every
// flush interval (200 ms by default) while it is refused.
const replicaSightingGap = ReplicasRememberedFor / 4

// Need is the number of replicas to wait for; 0 means none (no Sentinels,
// and no replica seen).
func (q *ReplicaQuorum) Need() int {
	if q.Sentinels && q.peak < 1 {
		return 1
	}
	return q.peak
}

// Saw records that the master had n replicas online at now.
func (q *ReplicaQuorum) Saw(n int, now time.Time) {
	gap := !q.lastSeen.IsZero() && now.Sub(q.lastSeen) > replicaSightingGap
	q.lastSeen = now
	switch {
	case n >= q.peak:
		q.peak, q.lowSince = n, time.Time{}
	case q.lowSince.IsZero() || gap:
		q.lowSince = now
	case now.Sub(q.lowSince) > ReplicasRememberedFor:
		q.peak, q.lowSince = n, time.Time{}
	}
}
