package http

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

type shortenRequest struct {
	URL *string `json:"url"`
}

type shortenResponse struct {
	ShortCode   string `json:"short_code"`
	ShortURL    string `json:"short_url"`
	OriginalURL string `json:"original_url"`
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
		l, created, err := s.links.Shorten(r.Context(), *req.URL)
		if err != nil {
			s.error(w, r, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		s.respond(w, status, shortenResponse{ShortCode: l.Code, ShortURL: s.cfg.PublicURL + "/" + l.Code, OriginalURL: l.URL})
	}
}

// handleRedirect serves /{code}; other paths are 404 without touching a store.
func (s *server) handleRedirect() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		code := strings.TrimPrefix(r.URL.Path, "/")
		if !link.IsCode(code) {
			s.error(w, r, backend.Errorf(backend.ENOTFOUND, "nothing here"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			s.error(w, r, backend.Errorf(backend.EMETHODNOTALLOWED, "short links answer GET and HEAD only"))
			return
		}
		target, err := s.links.Resolve(r.Context(), code)
		if err != nil {
			s.error(w, r, err)
			return
		}
		if s.cfg.CacheControl != "" {
			w.Header().Set("Cache-Control", s.cfg.CacheControl)
		}
		w.Header().Set("Location", target)
		w.WriteHeader(s.cfg.RedirectCode)
	}
}

type healthResponse struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
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
