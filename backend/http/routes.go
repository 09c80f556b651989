package http

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/kurzlink/kurz/backend"
)

// routes lists every route. /{code} and /{code}/qr live at the root next to
// fixed paths, which httprouter v1 cannot express, so handleCode serves them
// as NotFound.
func (s *server) routes() http.Handler {
	r := httprouter.New()
	r.Handler(http.MethodPost, "/api/shorten", s.instrument("shorten", s.handleShorten()))
	r.Handler(http.MethodGet, "/health", s.instrument("health", s.handleHealth()))
	r.Handler(http.MethodHead, "/health", s.instrument("health", s.handleHealth()))
	r.Handler(http.MethodGet, "/", s.instrument("page", s.handleHome()))
	r.Handler(http.MethodPost, "/", s.instrument("page", s.handleFormShorten()))
	r.Handler(http.MethodGet, "/static/*file", s.instrument("static", s.handleStatic()))
	r.NotFound = s.handleCode()
	r.MethodNotAllowed = s.instrument("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.error(w, r, backend.Errorf(backend.EMETHODNOTALLOWED, "method %s is not allowed here", r.Method))
	}))
	r.PanicHandler = func(w http.ResponseWriter, r *http.Request, v any) {
		s.logger.Error("panic in handler", "panic", v, "path", r.URL.Path)
		s.error(w, r, errorf(backend.EINTERNAL, "internal error"))
	}
	return r
}
