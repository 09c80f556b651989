package http

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kurzlink/kurz/backend"
)

// linkJSON is a link as the API shows it; full adds the management fields.
type linkJSON struct {
	ShortCode   string     `json:"short_code"`
	Domain      string     `json:"domain,omitempty"` // its domain's name; absent on the default domain
	ShortURL    string     `json:"short_url"`
	OriginalURL string     `json:"original_url"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	MaxVisits   *int64     `json:"max_visits,omitempty"`
	Redirect    int        `json:"redirect,omitempty"`
	CreatedAt   *time.Time `json:"created_at,omitempty"`
	UpdatedAt   *time.Time `json:"updated_at,omitempty"`
	AccessCount *int64     `json:"access_count,omitempty"`
	Disabled    bool       `json:"disabled,omitempty"`
	Tags        []string   `json:"tags,omitempty"`
	Title       string     `json:"title,omitempty"`
	ValidSince  *time.Time `json:"valid_since,omitempty"`
	Crawlable   bool       `json:"crawlable,omitempty"`
	// ForwardQuery: the visitor's query string is appended to the target.
	ForwardQuery bool `json:"forward_query,omitempty"`
}

func (s *server) linkJSON(l backend.Link, full bool) linkJSON {
	j := linkJSON{ShortCode: l.Code, Domain: l.Domain, ShortURL: s.shortURL(l.Domain, l.Code), OriginalURL: l.URL,
		ExpiresAt: l.ExpiresAt, MaxVisits: l.MaxVisits, Redirect: l.Redirect, Disabled: l.Disabled,
		Tags: l.Tags, Title: l.Title, ValidSince: l.ValidSince, Crawlable: l.Crawlable, ForwardQuery: l.ForwardQuery}
	if full {
		j.CreatedAt, j.UpdatedAt, j.AccessCount = &l.CreatedAt, &l.UpdatedAt, &l.AccessCount
		if j.Redirect == 0 {
			j.Redirect = s.cfg.RedirectCode
		}
	}
	return j
}

// requireKey lets a request through with an active key in Authorization:
// Bearer or X-API-Key, its actor in the context.
func (s *server) requireKey(next http.Handler) http.Handler {
	return s.withKey(next, true)
}

// optionalKey is requireKey for routes open to all: a request without a key
// goes on as anonymous, one with a key that is not valid is refused.
func (s *server) optionalKey(next http.Handler) http.Handler {
	return s.withKey(next, false)
}

func (s *server) withKey(next http.Handler, required bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-API-Key")
		if auth := r.Header.Get("Authorization"); key == "" && len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
			key = strings.TrimSpace(auth[7:])
		}
		if key == "" && !required {
			next.ServeHTTP(w, r)
			return
		}
		actor, err := s.keys.Check(r.Context(), key)
		if err != nil {
			s.error(w, r, err)
			return
		}
		next.ServeHTTP(w, withActor(r, actor))
	})
}

type actorKey struct{}

// withActor is r sent by actor (actorOf).
func withActor(r *http.Request, actor backend.Actor) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), actorKey{}, actor))
}

// actorOf is who sent r: the key's actor, or backend.Anonymous.
func actorOf(r *http.Request) backend.Actor {
	a, ok := r.Context().Value(actorKey{}).(backend.Actor)
	if !ok {
		return backend.Anonymous
	}
	return a
}

// handleKey tells a key holder what the key may do.
func (s *server) handleKey() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a := actorOf(r)
		res := struct {
			ID     int64        `json:"id"`
			Role   backend.Role `json:"role"`
			Domain string       `json:"domain,omitempty"` // the one domain it manages; absent: every domain
		}{ID: a.KeyID, Role: a.Role}
		if a.Domain != nil {
			res.Domain = s.cfg.Domains.Name(*a.Domain)
		}
		s.respond(w, http.StatusOK, res)
	}
}

type listResponse struct {
	Links      []linkJSON `json:"links"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

func (s *server) handleListLinks() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := 20
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				s.error(w, r, backend.Errorf(backend.EINVALID, "limit must be a number from 1 to 100"))
				return
			}
			limit = n
		}
		lq, err := parseListQuery(q)
		if err != nil {
			s.error(w, r, err)
			return
		}
		lq.Limit = limit
		if lq.Domain, err = s.queryDomain(r); err != nil {
			s.error(w, r, err)
			return
		}
		links, next, err := s.links.List(r.Context(), actorOf(r), lq)
		if err != nil {
			s.error(w, r, err)
			return
		}
		res := listResponse{Links: make([]linkJSON, len(links)), NextCursor: next}
		for i, l := range links {
			res.Links[i] = s.linkJSON(l, true)
		}
		s.respond(w, http.StatusOK, res)
	}
}

// parseListQuery reads cursor, q, tag (repeated, or comma-separated tags),
// tags_mode (any or all), created_after, created_before and order.
func parseListQuery(v url.Values) (backend.ListQuery, error) {
	q := backend.ListQuery{Cursor: v.Get("cursor"), Search: v.Get("q")}
	for _, t := range v["tag"] {
		q.Tags = append(q.Tags, t)
	}
	for _, list := range v["tags"] {
		q.Tags = append(q.Tags, strings.Split(list, ",")...)
	}
	switch v.Get("tags_mode") {
	case "", "any":
	case "all":
		q.AllTags = true
	default:
		return q, backend.Errorf(backend.EINVALID, "tags_mode must be any or all")
	}
	for _, f := range []struct {
		name string
		to   **time.Time
	}{{"created_after", &q.CreatedAfter}, {"created_before", &q.CreatedBefore}} {
		t, err := parseTimeOrDate(f.name, v.Get(f.name))
		if err != nil {
			return q, err
		}
		*f.to = t
	}
	var err error
	q.Order, err = backend.ParseListOrder(v.Get("order"))
	return q, err
}

// parseTimeOrDate reads an optional RFC 3339 time or YYYY-MM-DD date (midnight UTC).
func parseTimeOrDate(name, raw string) (*time.Time, error) {
	if raw == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		t, err = time.Parse(time.DateOnly, raw)
	}
	if err != nil {
		return nil, backend.Errorf(backend.EINVALID, "%s must be a time (RFC 3339) or a date (YYYY-MM-DD)", name)
	}
	return &t, nil
}

func (s *server) handleGetLink() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, err := s.paramKey(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		l, err := s.links.Get(r.Context(), actorOf(r), key)
		if err != nil {
			s.error(w, r, err)
			return
		}
		s.respond(w, http.StatusOK, s.linkJSON(l, true))
	}
}

// patchFields are the fields PATCH accepts; null clears expires_at and max_visits.
var patchFields = map[string]bool{"url": true, "expires_at": true, "max_visits": true, "redirect": true, "disabled": true,
	"tags": true, "title": true, "valid_since": true, "crawlable": true, "forward_query": true}

func (s *server) handlePatchLink() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var fields map[string]json.RawMessage
		if err := s.decode(w, r, &fields); err != nil {
			s.error(w, r, err)
			return
		}
		p, err := parsePatch(fields)
		if err != nil {
			s.error(w, r, err)
			return
		}
		key, err := s.paramKey(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		l, err := s.links.Update(r.Context(), actorOf(r), key, p)
		if err != nil {
			s.error(w, r, err)
			return
		}
		s.respond(w, http.StatusOK, s.linkJSON(l, true))
	}
}

func parsePatch(fields map[string]json.RawMessage) (backend.LinkPatch, error) {
	var p backend.LinkPatch
	if len(fields) == 0 {
		return p, backend.Errorf(backend.EINVALID, "nothing to change: send url, expires_at, max_visits, redirect, disabled, tags, title, valid_since, crawlable or forward_query")
	}
	for name, raw := range fields {
		if !patchFields[name] {
			return p, backend.Errorf(backend.EINVALID, "unknown field %q", name)
		}
		isNull := string(raw) == "null"
		var err error
		switch name {
		case "url":
			err = json.Unmarshal(raw, &p.URL)
			if isNull {
				return p, backend.Errorf(backend.EINVALIDURL, "url cannot be null")
			}
		case "expires_at":
			p.SetExpiresAt = true
			var v *string
			if err = json.Unmarshal(raw, &v); err == nil && v != nil && *v == "" {
				v = nil // "" clears it, as null does
			}
			if err == nil {
				p.ExpiresAt, err = parseTime("expires_at", v)
				if err != nil {
					return p, err
				}
			}
		case "max_visits":
			p.SetMaxVisits = true
			err = json.Unmarshal(raw, &p.MaxVisits)
			if err == nil && p.MaxVisits != nil && *p.MaxVisits == 0 {
				p.MaxVisits = nil // 0 clears it, as null does: typed clients cannot send null
			}
		case "disabled":
			if isNull {
				return p, backend.Errorf(backend.EINVALID, `field "disabled" must be true or false`)
			}
			err = json.Unmarshal(raw, &p.Disabled)
		case "tags": // null removes them, as [] does
			var tags []string
			if err = json.Unmarshal(raw, &tags); err == nil {
				p.Tags = &tags
			}
		case "title": // null removes it, as "" does
			var title *string
			if err = json.Unmarshal(raw, &title); err == nil {
				p.Title = new(string)
				if title != nil {
					*p.Title = *title
				}
			}
		case "valid_since":
			p.SetValidSince = true
			var v *string
			if err = json.Unmarshal(raw, &v); err == nil && v != nil && *v == "" {
				v = nil // "" clears it, as null does
			}
			if err == nil {
				if p.ValidSince, err = parseTime("valid_since", v); err != nil {
					return p, err
				}
			}
		case "crawlable":
			if isNull {
				return p, backend.Errorf(backend.EINVALID, `field "crawlable" must be true or false`)
			}
			err = json.Unmarshal(raw, &p.Crawlable)
		case "forward_query":
			if isNull {
				return p, backend.Errorf(backend.EINVALID, `field "forward_query" must be true or false`)
			}
			err = json.Unmarshal(raw, &p.ForwardQuery)
		case "redirect":
			err = json.Unmarshal(raw, &p.Redirect)
			if isNull {
				p.Redirect = new(int) // back to the default
			}
		}
		if err != nil {
			return p, backend.Errorf(backend.EINVALID, "field %q has the wrong type", name)
		}
	}
	return p, nil
}

func (s *server) handleDeleteLink() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, err := s.paramKey(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		if err := s.links.Delete(r.Context(), actorOf(r), key); err != nil {
			s.error(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleStats answers /api/links/{code}/stats and, without a code, /api/stats.
func (s *server) handleStats() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, err := parseStatsQuery(r.URL.Query())
		if err != nil {
			s.error(w, r, err)
			return
		}
		key, err := s.paramKey(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		st, err := s.links.Stats(r.Context(), actorOf(r), key, q)
		if err != nil {
			s.error(w, r, err)
			return
		}
		s.respond(w, http.StatusOK, st)
	}
}

// parseStatsQuery reads from and to (RFC 3339 or a date) and interval (hour or day).
func parseStatsQuery(v url.Values) (backend.StatsQuery, error) {
	var q backend.StatsQuery
	switch v.Get("interval") {
	case "", "day":
		q.Interval = 24 * time.Hour
	case "hour":
		q.Interval = time.Hour
	default:
		return q, backend.Errorf(backend.EINVALID, "interval must be hour or day")
	}
	for _, f := range []struct {
		name string
		to   *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		t, err := parseTimeOrDate(f.name, v.Get(f.name))
		if err != nil {
			return q, err
		}
		if t != nil {
			*f.to = *t
		}
	}
	return q, nil
}
