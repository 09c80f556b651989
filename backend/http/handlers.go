package http

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

type shortenRequest struct {
	URL        *string  `json:"url"`
	Domain     string   `json:"domain"`
	Alias      string   `json:"alias"`
	ExpiresAt  *string  `json:"expires_at"`
	MaxVisits  *int64   `json:"max_visits"`
	Redirect   int      `json:"redirect"`
	Tags       []string `json:"tags"`
	Title      string   `json:"title"`
	ValidSince *string  `json:"valid_since"`
	Crawlable  bool     `json:"crawlable"`
	// ForwardQuery appends the visitor's query string to the target.
	ForwardQuery bool `json:"forward_query"`
}

func (s *server) handleShorten() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req shortenRequest
		if err := s.decode(w, r, &req); err != nil {
			s.error(w, r, err)
			return
		}
		if req.URL == nil {
			s.error(w, r, backend.Errorf(backend.EINVALIDURL, `field "url" is required`))
			return
		}
		expires, err := parseTime("expires_at", req.ExpiresAt)
		if err != nil {
			s.error(w, r, err)
			return
		}
		since, err := parseTime("valid_since", req.ValidSince)
		if err != nil {
			s.error(w, r, err)
			return
		}
		domain, err := s.cfg.Domains.Param(req.Domain)
		if err == nil {
			domain, err = actorOf(r).CreatesOn(domain, req.Domain != "")
		}
		if err != nil {
			s.error(w, r, err)
			return
		}
		creq := backend.CreateRequest{URL: *req.URL, Domain: domain, Alias: req.Alias, ExpiresAt: expires, MaxVisits: req.MaxVisits, Redirect: req.Redirect,
			Meta: backend.Meta{Tags: req.Tags, Title: req.Title, ValidSince: since, Crawlable: req.Crawlable, ForwardQuery: req.ForwardQuery}}
		if actor := actorOf(r); actor != backend.Anonymous {
			creq.Owner = &actor.KeyID
		}
		l, created, err := s.links.Shorten(r.Context(), creq)
		if err != nil {
			s.error(w, r, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		s.respond(w, status, s.linkJSON(l, false))
	}
}

// parseTime reads an optional RFC 3339 time.
func parseTime(field string, v *string) (*time.Time, error) {
	if v == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, *v)
	if err != nil {
		return nil, backend.Errorf(backend.EINVALIDFIELD, "%s must be an RFC 3339 time such as 2030-01-02T15:04:05Z", field)
	}
	return &t, nil
}

// handleCode serves /{code} (the redirect) and /{code}/qr; any other path is
// 404 without touching a store.
func (s *server) handleCode() http.Handler {
	redirect := s.instrument("redirect", s.handleRedirect())
	qrCode := s.instrument("qr", s.handleQR())
	notFound := s.instrument("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.notFound(w, r, backend.Errorf(backend.ENOTFOUND, "nothing here"))
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/")
		switch {
		case link.IsAlias(path):
			redirect.ServeHTTP(w, r)
		case strings.HasSuffix(path, "/qr") && link.IsAlias(strings.TrimSuffix(path, "/qr")):
			qrCode.ServeHTTP(w, r)
		default:
			notFound.ServeHTTP(w, r)
		}
	})
}

// handleRobots lets crawlers follow the crawlable links and nothing else
// (Shlink's robots.txt: the others would spend a visit, and a count).
func (s *server) handleRobots() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		codes, err := s.links.Crawlable(r.Context(), s.cfg.Domains.OfHost(r.Host))
		if err != nil {
			s.error(w, r, err)
			return
		}
		var b strings.Builder
		b.WriteString("# Only short links marked crawlable may be followed.\n\nUser-agent: *\n")
		for _, code := range codes {
			b.WriteString("Allow: /" + code + "\n")
		}
		b.WriteString("Disallow: /\n")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, b.String())
	}
}

// getOrHead answers 405 to other methods and reports whether to go on.
func (s *server) getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	s.error(w, r, backend.Errorf(backend.EMETHODNOTALLOWED, "short links answer GET and HEAD only"))
	return false
}

func (s *server) handleRedirect() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.getOrHead(w, r) {
			return
		}
		key := s.hostKey(r, strings.TrimPrefix(r.URL.Path, "/"))
		target, status, err := s.links.Resolve(r.Context(), key, r.URL.RawQuery)
		if backend.ErrorCode(err) == backend.ENOTFOUND && s.domainRedirect(w, r, func(d backend.DomainRedirects) string { return d.NotFound }) {
			return
		}
		if err != nil {
			s.notFound(w, r, err)
			return
		}
		if s.cfg.CacheControl != "" {
			w.Header().Set("Cache-Control", s.cfg.CacheControl)
		}
		w.Header().Set("Location", target)
		w.WriteHeader(status)
		if s.cfg.Visits != nil && r.Method == http.MethodGet { // HEAD is not a visit: uptime monitors use it
			s.cfg.Visits.Record(link.Visit{Code: key, At: time.Now(),
				Addr: clientAddr(r), Referrer: r.Referer(), UserAgent: r.UserAgent()})
		}
	}
}

// clientAddr is the visitor's address: the edge's reading of it, else link.ClientAddr's.
func clientAddr(r *http.Request) string {
	if addr := r.Header.Get(link.ClientAddrHeader); addr != "" {
		return addr
	}
	return link.ClientAddr(r.Header.Values("X-Forwarded-For"), r.RemoteAddr)
}

// handleQR draws the QR code of an existing code's short URL.
func (s *server) handleQR() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.getOrHead(w, r) {
			return
		}
		code := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/qr")
		l, err := s.links.Lookup(r.Context(), s.hostKey(r, code))
		if err != nil {
			s.notFound(w, r, err)
			return
		}
		svg, err := qrSVG(s.shortURL(l.Domain, l.Code))
		if err != nil {
			s.error(w, r, backend.Wrap(backend.EINTERNAL, err, "internal error"))
			return
		}
		securityHeaders(w.Header())
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Write(svg)
	}
}

// notFound answers a browser with a page and anyone else with JSON.
func (s *server) notFound(w http.ResponseWriter, r *http.Request, err error) {
	code := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/qr")
	switch errCode := backend.ErrorCode(err); {
	case errCode == backend.ENOTFOUND && wantsHTML(r): // the edge's page too
		securityHeaders(w.Header())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, link.NotFoundPage(code))
	case errCode == backend.EGONE && wantsHTML(r):
		s.renderPage(w, http.StatusGone, pageData{NotFound: sentence(backend.ErrorMessage(err)), GoneCode: code})
	default:
		s.error(w, r, err)
	}
}

// handleHome is the page; ?code= shows a link just made (the form's post
// redirects here, so that a reload does not post again).
func (s *server) handleHome() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "" && s.domainRedirect(w, r, func(d backend.DomainRedirects) string { return d.Root }) {
			return
		}
		data := pageData{}
		if code := r.URL.Query().Get("code"); code != "" {
			if l, err := s.links.Lookup(r.Context(), code); err == nil {
				res := s.linkJSON(l, false)
				data.URL, data.Result = l.URL, &res
			}
		}
		s.renderPage(w, http.StatusOK, data)
	}
}

// handleFormShorten is the form post of the page without JavaScript. The
// form has no key field, so where creation needs a key it creates nothing.
func (s *server) handleFormShorten() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.cfg.OpenKeyless {
			s.renderPage(w, http.StatusUnauthorized, pageData{Error: "Creating links here needs an API key: use the API with your key."})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			s.renderPage(w, http.StatusBadRequest, pageData{Error: "The form could not be read. Please try again."})
			return
		}
		raw := strings.TrimSpace(r.PostForm.Get("url"))
		l, _, err := s.links.Shorten(r.Context(), backend.CreateRequest{URL: raw})
		if err != nil {
			status, ok := statusOf[backend.ErrorCode(err)]
			if !ok || status >= 500 {
				s.logger.Error("form shorten failed", "err", err)
				s.renderPage(w, http.StatusServiceUnavailable, pageData{URL: raw, Error: "The shortener is unavailable right now. Please try again in a moment."})
				return
			}
			s.renderPage(w, status, pageData{URL: raw, Error: sentence(backend.ErrorMessage(err)), Suggestion: s.links.Suggest(raw)})
			return
		}
		http.Redirect(w, r, "/?code="+url.QueryEscape(l.Code), http.StatusSeeOther)
	}
}

// sentence makes an error message read as one: capital first, full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

type healthResponse struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// handleLive answers while the process serves HTTP: a liveness probe on it
// never restarts a replica because Postgres or Redis is away.
func (s *server) handleLive() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.respond(w, http.StatusOK, healthResponse{Status: "alive"})
	}
}

// handleReady is the load balancer's check: 503 only when the replica can serve nothing.
func (s *server) handleReady() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Draining != nil && s.cfg.Draining() {
			s.respond(w, http.StatusServiceUnavailable, healthResponse{Status: "draining"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.links.Ready(ctx); err != nil {
			s.respond(w, http.StatusServiceUnavailable, healthResponse{Status: "unavailable", Error: err.Error()})
			return
		}
		s.respond(w, http.StatusOK, healthResponse{Status: "ready"})
	}
}

func (s *server) handleHealth() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.links.Health(ctx); err != nil {
			s.logger.Warn("health check failed", "err", err)
			s.respond(w, http.StatusServiceUnavailable, healthResponse{Status: "unhealthy", Error: err.Error()})
			return
		}
		s.respond(w, http.StatusOK, healthResponse{Status: "healthy"})
	}
}
