package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

// visitJSON is one logged visit.
type visitJSON struct {
	At        time.Time `json:"at"`
	Code      string    `json:"code"`
	Domain    string    `json:"domain,omitempty"` // absent on the default domain
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
		key, err := s.paramKey(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		q := backend.VisitLogQuery{Code: key, Tag: v.Get("tag"), Cursor: v.Get("cursor")}
		if key == "" { // every link, or every link of ?domain=
			q.Domain, _ = s.queryDomain(r) // paramKey refused a domain not served
		}
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
			domain, code := link.SplitKey(l.Code)
			res.Visits[i] = visitJSON{At: l.At, Code: code, Domain: domain, Referrer: l.Referrer, Browser: l.Browser, OS: l.OS,
				Device: l.Device, Country: l.Country, Bot: l.Bot, UserAgent: l.UserAgent}
		}
		s.respond(w, http.StatusOK, res)
	}
}
