package backend_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

// statusSources answer the status from fixed values: the domain's rules
// over them are what this tests (the adapters have their own tests).
type statusSources struct {
	edges []backend.EdgeInstance
}

func (s statusSources) EdgeStats(context.Context) ([]backend.EdgeInstance, int, error) {
	return s.edges, 1, nil
}
func (statusSources) VisitsBacklog(context.Context, time.Time) (int64, time.Duration, error) {
	return 3, 2 * time.Second, nil
}
func (statusSources) OutboxBacklog(context.Context) (int64, time.Duration, error) { return 0, 0, nil }

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

func TestMonitorStatus(t *testing.T) {
	edge := link.EdgeStats{At: time.UnixMilli(1764750000000), HotAnswers: 900, RedisAnswers: 60, NotFound: 40, PassedMiss: 100,
		RTT: []int64{0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0}} // every round trip between 0.5 and 1 ms
	src := statusSources{edges: []backend.EdgeInstance{{Name: "b-edge", Stats: edge}, {Name: "a-edge"}}}
	m := backend.NewMonitor(backend.StatusSources{Edges: src, Visits: src, Outbox: src,
		Store: pinger{}, Cache: pinger{errors.New("redis down")}})
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		st, err := m.Status(ctx, backend.Actor{Role: backend.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Edges) != 2 || st.Edges[0].Name != "a-edge" || st.MalformedEdges != 1 {
			t.Fatalf("edges = %+v, %d malformed; want a-edge then b-edge, 1 malformed", st.Edges, st.MalformedEdges)
		}
		e := st.Edges[1]
		if got, want := e.HitRatio, 1000.0/1100; got != want {
			t.Errorf("HitRatio = %v, want %v", got, want)
		}
		if got, want := e.HotRatio, 900.0/960; got != want {
			t.Errorf("HotRatio = %v, want %v", got, want)
		}
		if got, want := e.RedisP99, 995*time.Microsecond; got != want {
			t.Errorf("RedisP99 = %v, want %v", got, want)
		}
		if e.Answered != 1000 || e.Passed != 100 || st.Edges[0].HitRatio != 0 {
			t.Errorf("answered %d, passed %d, an edge without requests at %v; want 1000, 100, 0", e.Answered, e.Passed, st.Edges[0].HitRatio)
		}
		if st.VisitsStream != 3 || st.FoldLag != 2*time.Second || st.VisitsCap != link.VisitsStreamCap {
			t.Errorf("visits %d of %d, lag %s; want 3 of %d, 2s", st.VisitsStream, st.VisitsCap, st.FoldLag, link.VisitsStreamCap)
		}
		if st.Postgres != nil || st.Redis == nil {
			t.Errorf("postgres %v, redis %v; want nil and the error", st.Postgres, st.Redis)
		}
	})
	t.Run("ErrAuthor", func(t *testing.T) {
		if _, err := m.Status(ctx, backend.Actor{Role: backend.RoleAuthor}); backend.ErrorCode(err) != backend.EFORBIDDEN {
			t.Errorf("an author's status: %v, want %s", err, backend.EFORBIDDEN)
		}
	})
}
