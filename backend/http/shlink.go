package http

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/kurzlink/kurz/backend"
)

// Shlink's REST API (v3; v1 and v2 are the same handlers, as in Shlink),
// for Shlink's web client, SDK and the tools built on them. docs/shlink-api.md
// says what is supported and what differs.

// ShlinkVersion is the Shlink version /rest/health reports: Shlink's web
// client turns on the features of the versions up to it, all of which kurz has.
const ShlinkVersion = "4.6.0"

const shlinkErrorBase = "https://shlink.io/api/error/"

// shlinkRoutes mounts Shlink's API under /rest/. httprouter v1 cannot hold
// /short-urls/shorten beside /short-urls/:shortCode, so a ServeMux does.
func (s *server) shlinkRoutes(r *httprouter.Router) {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.Handler) {
		mux.Handle(pattern, h)
		s.compat = append(s.compat, pattern)
	}
	handle("GET /rest/health", s.shlinkHealth())
	for _, v := range []string{"v1", "v2", "v3"} {
		p := "/rest/" + v
		key := s.shlinkKey
		handle("GET "+p+"/health", s.shlinkHealth())
		handle("GET "+p+"/short-urls", key(s.shlinkListShortURLs()))
		handle("POST "+p+"/short-urls", key(s.shlinkCreateShortURL()))
		handle("GET "+p+"/short-urls/shorten", key(s.shlinkShorten()))
		handle("GET "+p+"/short-urls/{shortCode}", key(s.shlinkGetShortURL()))
		handle("PATCH "+p+"/short-urls/{shortCode}", key(s.shlinkEditShortURL()))
		handle("DELETE "+p+"/short-urls/{shortCode}", key(s.shlinkDeleteShortURL()))
		handle("GET "+p+"/short-urls/{shortCode}/visits", key(s.shlinkVisits(shortURLVisits)))
		handle("DELETE "+p+"/short-urls/{shortCode}/visits", key(s.shlinkDeleteVisits()))
		handle("GET "+p+"/short-urls/{shortCode}/redirect-rules", key(s.shlinkRedirectRules()))
		handle("POST "+p+"/short-urls/{shortCode}/redirect-rules", key(s.shlinkRedirectRules()))
		handle("GET "+p+"/tags", key(s.shlinkTags(false)))
		handle("GET "+p+"/tags/stats", key(s.shlinkTags(true)))
		handle("PUT "+p+"/tags", key(s.shlinkRenameTag()))
		handle("DELETE "+p+"/tags", key(s.shlinkDeleteTags()))
		handle("GET "+p+"/tags/{tag}/visits", key(s.shlinkVisits(tagVisits)))
		handle("GET "+p+"/domains", key(s.shlinkDomains()))
		handle("PATCH "+p+"/domains/redirects", key(s.shlinkEditDomainRedirects()))
		handle("GET "+p+"/domains/{domain}/visits", key(s.shlinkVisits(domainVisits)))
		handle("GET "+p+"/visits", key(s.shlinkVisitsOverview()))
		handle("GET "+p+"/visits/non-orphan", key(s.shlinkVisits(allVisits)))
		handle("GET "+p+"/visits/orphan", key(s.shlinkOrphanVisits()))
		handle("DELETE "+p+"/visits/orphan", key(s.shlinkDeleteOrphanVisits()))
		handle("GET "+p+"/mercure-info", key(s.shlinkMercureInfo()))
	}
	mux.Handle("/rest/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.shlinkProblem(w, r, http.StatusNotFound, "not-found", "Not found", "Requested route does not exist.", nil)
	}))
	h := s.instrument("shlink", s.shlinkCORS(mux))
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		r.Handler(m, "/rest/*path", h)
	}
}

// shlinkCORS answers as Shlink does by default: any origin (the web client
// is a page of another origin; keys travel in a header, never in cookies).
func (s *server) shlinkCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET,POST,PUT,PATCH,DELETE")
			h.Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
			h.Set("Access-Control-Max-Age", "3600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// shlinkKey lets a request through with an active key in X-Api-Key (or
// ?apiKey= on /short-urls/shorten, as Shlink), its actor in the context.
func (s *server) shlinkKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-Api-Key")
		if key == "" && strings.HasSuffix(r.URL.Path, "/short-urls/shorten") {
			key = r.URL.Query().Get("apiKey")
		}
		if key == "" {
			s.shlinkProblem(w, r, http.StatusUnauthorized, "missing-authentication", "Invalid authorization",
				`Expected one of the following authentication headers, ["X-Api-Key"], but none were provided`,
				map[string]any{"expectedHeaders": []string{"X-Api-Key"}})
			return
		}
		actor, err := s.keys.Check(r.Context(), key)
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		next.ServeHTTP(w, withActor(r, actor))
	})
}

// shlinkProblem writes an RFC 7807 problem as Shlink does: its type under
// https://shlink.io/api/error/, and extra members beside the four.
func (s *server) shlinkProblem(w http.ResponseWriter, r *http.Request, status int, typ, title, detail string, extra map[string]any) {
	body := map[string]any{"type": shlinkErrorBase + typ, "title": title, "detail": detail, "status": status}
	for k, v := range extra {
		body[k] = v
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	s.respondAs(w, status, "application/problem+json", body)
}

// shlinkNotFound says what was not found, in Shlink's words.
type shlinkNotFound func(w http.ResponseWriter, r *http.Request)

// shlinkError writes a kurz error in Shlink's vocabulary; notFound words
// ENOTFOUND for the route (absent: a short URL of the path's code).
func (s *server) shlinkError(w http.ResponseWriter, r *http.Request, err error, notFound ...shlinkNotFound) {
	msg := backend.ErrorMessage(err)
	switch backend.ErrorCode(err) {
	case backend.EINVALID, backend.EINVALIDFIELD, backend.EINVALIDURL, backend.EBLOCKED, backend.ETOOLARGE, backend.EUNSUPPORTED:
		s.shlinkInvalid(w, r, msg, invalidElements(err))
	case backend.ECONFLICT:
		s.shlinkProblem(w, r, http.StatusBadRequest, "non-unique-slug", "Invalid custom slug", msg, nil)
	case backend.ENOTFOUND:
		if len(notFound) > 0 {
			notFound[0](w, r)
			return
		}
		s.shlinkShortURLNotFound(w, r)
	case backend.EUNAUTHORIZED:
		s.shlinkProblem(w, r, http.StatusUnauthorized, "invalid-api-key", "Invalid API key", "Provided API key does not exist or is invalid.", nil)
	case backend.EFORBIDDEN:
		s.shlinkProblem(w, r, http.StatusForbidden, "forbidden-operation", "Forbidden", msg, nil)
	case backend.EUNAVAILABLE:
		s.logger.Warn("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		s.shlinkProblem(w, r, http.StatusServiceUnavailable, "service-unavailable", "Service unavailable", msg, nil)
	default:
		s.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		s.shlinkProblem(w, r, http.StatusInternalServerError, "internal-server-error", "Internal server error", "Internal server error", nil)
	}
}

func (s *server) shlinkInvalid(w http.ResponseWriter, r *http.Request, detail string, elements []string) {
	if elements == nil {
		elements = []string{}
	}
	s.shlinkProblem(w, r, http.StatusBadRequest, "invalid-data", "Invalid data", detail, map[string]any{"invalidElements": elements})
}

// shlinkFieldError is an EINVALIDFIELD that names the Shlink field it is about.
type shlinkFieldError struct {
	field string
	err   error
}

func (e *shlinkFieldError) Error() string { return e.err.Error() }
func (e *shlinkFieldError) Unwrap() error { return e.err }

func invalidField(field string, err error) error { return &shlinkFieldError{field: field, err: err} }

// shlinkFields are Shlink's names of the fields of kurz's API (backend.ErrorField).
var shlinkFields = map[string]string{"url": "longUrl", "alias": "customSlug", "expires_at": "validUntil",
	"valid_since": "validSince", "max_visits": "maxVisits", "tags": "tags", "title": "title"}

// invalidElements are the Shlink fields an error is about, if it says.
func invalidElements(err error) []string {
	var f *shlinkFieldError
	if errors.As(err, &f) {
		return []string{f.field}
	}
	if name, ok := shlinkFields[backend.ErrorField(err)]; ok {
		return []string{name}
	}
	return nil
}

func (s *server) shlinkShortURLNotFound(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("shortCode")
	extra := map[string]any{"shortCode": code}
	detail := `No URL found with short code "` + code + `"`
	if d := r.URL.Query().Get("domain"); d != "" {
		extra["domain"] = d
		detail += ` for domain "` + d + `"`
	}
	s.shlinkProblem(w, r, http.StatusNotFound, "short-url-not-found", "Short URL not found", detail, extra)
}

func (s *server) respondAs(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.logger.Debug("writing response failed", "err", err)
	}
}

// shlinkDecode reads a JSON object as Shlink does: unknown keys ignored.
func (s *server) shlinkDecode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return decodeError(err, s.cfg.MaxBodyBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return decodeError(err, s.cfg.MaxBodyBytes)
	}
	return nil
}

// shlinkDateLayout is PHP's ATOM, Shlink's dates.
const shlinkDateLayout = "2006-01-02T15:04:05-07:00"

func shlinkDate(t time.Time) string { return t.UTC().Format(shlinkDateLayout) }

func shlinkDatePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	d := shlinkDate(*t)
	return &d
}

// parseShlinkDate reads an ISO 8601 time as Shlink's clients send it (backend.ParseLooseTime).
func parseShlinkDate(field, raw string) (*time.Time, error) {
	if t, ok := backend.ParseLooseTime(raw); ok {
		return t, nil
	}
	return nil, invalidField(field, backend.Errorf(backend.EINVALIDFIELD, "%s must be an ISO 8601 date, such as 2030-01-02T15:04:05+00:00", field))
}

// flexInt is a JSON whole number that may come as a string (a form's input).
type flexInt struct {
	set   bool
	value *int64 // nil: null
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	f.set = true
	if string(b) == "null" {
		return nil
	}
	s := strings.Trim(string(b), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return backend.Errorf(backend.EINVALID, "%.40s is not a whole number", b)
	}
	f.value = &n
	return nil
}

// shlinkBool reads a query flag as Shlink's clients write it ("true").
func shlinkBool(v string) bool { return v == "true" || v == "1" }

// shlinkList reads a list parameter, written name[]=a&name[]=b (or name=a).
func shlinkList(q map[string][]string, name string) []string {
	return append(append([]string(nil), q[name+"[]"]...), q[name]...)
}

// shlinkPage reads page and itemsPerPage; absent or negative itemsPerPage is def.
func shlinkPage(q map[string][]string, def int) (backend.Page, error) {
	get := func(name string) string {
		if v := q[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	number, size := 1, def
	if v := get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return backend.Page{}, invalidField("page", backend.Errorf(backend.EINVALID, "page must be a number"))
		}
		number = n
	}
	if v := get("itemsPerPage"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return backend.Page{}, invalidField("itemsPerPage", backend.Errorf(backend.EINVALID, "itemsPerPage must be a number"))
		}
		size = n
		if n < 0 {
			size = def
		}
	}
	p, err := backend.NewPage(number, size)
	if err != nil {
		return p, invalidField("itemsPerPage", err)
	}
	return p, nil
}

// shlinkPagination is Shlink's pagination object.
type shlinkPagination struct {
	CurrentPage        int   `json:"currentPage"`
	PagesCount         int64 `json:"pagesCount"`
	ItemsPerPage       int   `json:"itemsPerPage"`
	ItemsInCurrentPage int   `json:"itemsInCurrentPage"`
	TotalItems         int64 `json:"totalItems"`
}

func paginationOf(p backend.Page, items int, total int64) shlinkPagination {
	pages := (total + int64(p.Size) - 1) / int64(p.Size)
	return shlinkPagination{CurrentPage: p.Number, PagesCount: max(pages, 1), ItemsPerPage: p.Size, ItemsInCurrentPage: items, TotalItems: total}
}

// shlinkDomainParam is the domain of ?domain= or a path's {domain}, as stored:
// absent (nil), "DEFAULT" or the default's name is the default.
func (s *server) shlinkDomainParam(name string) (*string, error) {
	if name == "" {
		return nil, nil
	}
	if name == "DEFAULT" {
		name = ""
	}
	domain, err := s.cfg.Domains.Param(name)
	if err != nil {
		return nil, invalidField("domain", err)
	}
	return &domain, nil
}

// shlinkHealth is Shlink's health check: no key needed.
func (s *server) shlinkHealth() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status, code := "pass", http.StatusOK
		if err := s.links.Health(ctx); err != nil {
			s.logger.Warn("health check failed", "err", err)
			status, code = "fail", http.StatusServiceUnavailable
		}
		s.respondAs(w, code, "application/health+json", map[string]any{"status": status, "version": ShlinkVersion,
			"links": map[string]string{"about": "https://shlink.io", "project": "https://github.com/shlinkio/shlink"}})
	}
}

func (s *server) shlinkMercureInfo() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.shlinkProblem(w, r, http.StatusNotImplemented, "mercure-not-configured", "Mercure integration not configured",
			"This Shlink instance is not integrated with a mercure hub.", nil)
	}
}
