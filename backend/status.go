package backend

import (
	"context"
	"sort"
	"time"

	"github.com/kurzlink/kurz/link"
)

// Status is what an operator looks at first: every edge, the folding of
// visits, the outbox, and whether Postgres and Redis answer.
type Status struct {
	At             time.Time
	Edges          []EdgeStatus
	MalformedEdges int // published statistics that did not parse
	VisitsStream   int64
	VisitsCap      int64
	FoldLag        time.Duration
	OutboxBacklog  int64
	OutboxOldest   time.Duration
	Postgres       error
	Redis          error
}

// EdgeStatus is one edge instance, from the counters it last published
// (cumulative since it started).
type EdgeStatus struct {
	Name                  string
	HitRatio, HotRatio    float64 // answered at the edge of code-shaped requests; from the hot cache of redirects
	Answered, Passed      int64
	NotFound              int64
	RedisP50, RedisP99    time.Duration
	BreakerOpen           bool
	RedisErrors, Timeouts int64
	LastPublish           time.Time
}

// StatusSources are where the status comes from: Redis for the edges and
// the visits stream, Postgres for the outbox, both for their health.
type StatusSources struct {
	Edges  EdgeStatsSource
	Visits interface {
		VisitsBacklog(ctx context.Context, now time.Time) (int64, time.Duration, error)
	}
	Outbox interface {
		OutboxBacklog(ctx context.Context) (int64, time.Duration, error)
	}
	Store interface {
		Ping(ctx context.Context) error
	}
	Cache interface {
		Ping(ctx context.Context) error
	}
}

// Monitor answers the status to admins.
type Monitor struct {
	src StatusSources
	now func() time.Time
}

func NewMonitor(src StatusSources) *Monitor { return &Monitor{src: src, now: time.Now} }

// Status gathers what each source answers; a source that fails leaves its
// part empty and shows in Postgres or Redis.
func (m *Monitor) Status(ctx context.Context, actor Actor) (Status, error) {
	if actor.Role != RoleAdmin {
		return Status{}, Errorf(EFORBIDDEN, "the status needs an admin key")
	}
	st := Status{At: m.now(), VisitsCap: link.VisitsStreamCap}
	st.Postgres = m.src.Store.Ping(ctx)
	st.Redis = m.src.Cache.Ping(ctx)
	if edges, malformed, err := m.src.Edges.EdgeStats(ctx); err == nil {
		st.MalformedEdges = malformed
		for _, e := range edges {
			st.Edges = append(st.Edges, edgeStatus(e))
		}
		sort.Slice(st.Edges, func(i, j int) bool { return st.Edges[i].Name < st.Edges[j].Name })
	}
	if n, lag, err := m.src.Visits.VisitsBacklog(ctx, st.At); err == nil {
		st.VisitsStream, st.FoldLag = n, lag
	}
	if n, oldest, err := m.src.Outbox.OutboxBacklog(ctx); err == nil {
		st.OutboxBacklog, st.OutboxOldest = n, oldest
	}
	return st, nil
}

func edgeStatus(e EdgeInstance) EdgeStatus {
	s := e.Stats
	answers := s.HotAnswers + s.RedisAnswers
	st := EdgeStatus{Name: e.Name, HitRatio: hitRatio(s), Answered: edgeAnswered(s), Passed: edgePassed(s), NotFound: s.NotFound,
		RedisP50: rttQuantile(s, 0.5), RedisP99: rttQuantile(s, 0.99), BreakerOpen: s.BreakerOpen,
		RedisErrors: s.RedisErrors, Timeouts: s.RedisTimeouts, LastPublish: s.At}
	if answers > 0 {
		st.HotRatio = float64(s.HotAnswers) / float64(answers)
	}
	return st
}
