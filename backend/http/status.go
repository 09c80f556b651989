package http

import (
	"context"
	"net/http"
	"time"

	"github.com/kurzlink/kurz/backend"
)

// StatusReader answers the operator's status (admins only).
type StatusReader interface {
	Status(ctx context.Context, actor backend.Actor) (backend.Status, error)
}

type statusResponse struct {
	At             time.Time            `json:"at"`
	Edges          []edgeStatusResponse `json:"edges"`
	MalformedEdges int                  `json:"malformed_edges"`
	Visits         struct {
		StreamLength   int64   `json:"stream_length"`
		StreamCap      int64   `json:"stream_cap"`
		FoldLagSeconds float64 `json:"fold_lag_seconds"`
	} `json:"visits"`
	Outbox struct {
		Backlog       int64   `json:"backlog"`
		OldestSeconds float64 `json:"oldest_seconds"`
	} `json:"outbox"`
	Postgres dependencyResponse `json:"postgres"`
	Redis    dependencyResponse `json:"redis"`
}

type edgeStatusResponse struct {
	Name        string    `json:"name"`
	HitRatio    float64   `json:"hit_ratio"`
	HotRatio    float64   `json:"hot_ratio"`
	Answered    int64     `json:"answered"`
	Passed      int64     `json:"passed"`
	NotFound    int64     `json:"not_found"`
	RedisP50MS  float64   `json:"redis_p50_ms"`
	RedisP99MS  float64   `json:"redis_p99_ms"`
	BreakerOpen bool      `json:"breaker_open"`
	RedisErrors int64     `json:"redis_errors"`
	Timeouts    int64     `json:"redis_timeouts"`
	LastPublish time.Time `json:"last_publish"`
}

type dependencyResponse struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func dependency(err error) dependencyResponse {
	if err != nil {
		return dependencyResponse{Error: backend.ErrorMessage(err)}
	}
	return dependencyResponse{OK: true}
}

func (s *server) handleStatus() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Status == nil {
			s.error(w, r, backend.Errorf(backend.ENOTFOUND, "nothing here"))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		st, err := s.cfg.Status.Status(ctx, actorOf(r))
		if err != nil {
			s.error(w, r, err)
			return
		}
		res := statusResponse{At: st.At, Edges: []edgeStatusResponse{}, MalformedEdges: st.MalformedEdges,
			Postgres: dependency(st.Postgres), Redis: dependency(st.Redis)}
		res.Visits.StreamLength, res.Visits.StreamCap, res.Visits.FoldLagSeconds = st.VisitsStream, st.VisitsCap, st.FoldLag.Seconds()
		res.Outbox.Backlog, res.Outbox.OldestSeconds = st.OutboxBacklog, st.OutboxOldest.Seconds()
		for _, e := range st.Edges {
			res.Edges = append(res.Edges, edgeStatusResponse{Name: e.Name, HitRatio: e.HitRatio, HotRatio: e.HotRatio,
				Answered: e.Answered, Passed: e.Passed, NotFound: e.NotFound,
				RedisP50MS: float64(e.RedisP50) / float64(time.Millisecond), RedisP99MS: float64(e.RedisP99) / float64(time.Millisecond),
				BreakerOpen: e.BreakerOpen, RedisErrors: e.RedisErrors, Timeouts: e.Timeouts, LastPublish: e.LastPublish})
		}
		s.respond(w, http.StatusOK, res)
	}
}

func (s *server) handleStatusPage() http.HandlerFunc { return servePage("web/status.html") }
