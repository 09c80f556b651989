package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/kurzlink/kurz/backend"
)

// visitJSON is one logged visit.
type visitJSON struct {
	At        time.Time `json:"at"`
	Code      string    `json:"code"`
	Referrer  string    `json:"referrer"`
	Browser   string    `json:"browser"`
	OS        string    `json:"os"`
	Device    string    `json:"device"`
	Country   string    `json:"country"`
	Bot       bool      `json:"bot"`
	UserAgent string    `json:"user_agent,omitempty"`
}

type visitLogResponse struct {
	Visits     []visitJSON `json:"visits"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// handleVisitLog pages the logged visits of a link (/api/links/{code}/visits),
// or of every link or a tag (/api/visits?tag=), newest first.
func (s *server) handleVisitLog() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		q := backend.VisitLogQuery{Code: httprouter.ParamsFromContext(r.Context()).ByName("code"), Tag: v.Get("tag"), Cursor: v.Get("cursor")}
		if l := v.Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 {
				s.error(w, r, backend.Errorf(backend.EINVALID, "limit must be a number from 1 to %d", backend.MaxVisitLogLimit))
				return
			}
			q.Limit = n
		}
		visits, next, err := s.links.VisitLog(r.Context(), actorOf(r), q)
		if err != nil {
			s.error(w, r, err)
			return
		}
		res := visitLogResponse{Visits: make([]visitJSON, len(visits)), NextCursor: next}
		for i, l := range visits {
			res.Visits[i] = visitJSON{At: l.At, Code: l.Code, Referrer: l.Referrer, Browser: l.Browser, OS: l.OS,
				Device: l.Device, Country: l.Country, Bot: l.Bot, UserAgent: l.UserAgent}
		}
		s.respond(w, http.StatusOK, res)
	}
}
