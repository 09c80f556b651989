package http

import (
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/kurzlink/kurz/backend"
)

// routes lists every route. /{code} and /{code}/qr live at the root next to
// fixed paths, which httprouter v1 cannot express, so handleCode serves them
// as NotFound.
func (s *server) routes() *httprouter.Router {
	r := &router{Router: httprouter.New(), server: s}
	shorten := s.optionalKey(s.handleShorten()) // a key makes its holder the owner
	if !s.cfg.OpenKeyless {
		shorten = s.requireKey(s.handleShorten())
	}
	r.Handler(http.MethodPost, "/api/shorten", s.instrument("shorten", shorten))
	r.Handler(http.MethodGet, "/api/key", s.instrument("key", s.requireKey(s.handleKey())))
	r.Handler(http.MethodGet, "/api/links", s.instrument("links", s.requireKey(s.handleListLinks())))
	r.Handler(http.MethodGet, "/api/links/:code", s.instrument("link", s.requireKey(s.handleGetLink())))
	r.Handler(http.MethodPatch, "/api/links/:code", s.instrument("link", s.requireKey(s.handlePatchLink())))
	r.Handler(http.MethodDelete, "/api/links/:code", s.instrument("link", s.requireKey(s.handleDeleteLink())))
	r.Handler(http.MethodGet, "/api/links/:code/stats", s.instrument("stats", s.requireKey(s.handleStats())))
	r.Handler(http.MethodGet, "/api/stats", s.instrument("stats", s.requireKey(s.handleStats())))
	r.Handler(http.MethodGet, "/api/links/:code/visits", s.instrument("visits", s.requireKey(s.handleVisitLog())))
	r.Handler(http.MethodGet, "/api/visits", s.instrument("visits", s.requireKey(s.handleVisitLog())))
	r.Handler(http.MethodGet, "/api/domains", s.instrument("domains", s.requireKey(s.handleDomains())))
	r.Handler(http.MethodPatch, "/api/domains/redirects", s.instrument("domains", s.requireKey(s.handleSetDomainRedirects())))
	r.Handler(http.MethodGet, "/api/status", s.instrument("status", s.requireKey(s.handleStatus())))
	r.Handler(http.MethodPost, "/api/reports", s.instrument("reports", s.handleReport()))
	r.Handler(http.MethodGet, "/api/reports", s.instrument("reports", s.requireKey(s.handleListReports())))
	r.Handler(http.MethodGet, "/report", s.instrument("page", s.handleReportPage()))
	r.Handler(http.MethodHead, "/report", s.instrument("page", s.handleReportPage()))
	r.Handler(http.MethodPost, "/report", s.instrument("page", s.handleReportForm()))
	r.Handler(http.MethodGet, "/api/openapi.json", s.instrument("openapi", s.handleOpenAPI()))
	r.Handler(http.MethodHead, "/api/openapi.json", s.instrument("openapi", s.handleOpenAPI()))
	r.Handler(http.MethodGet, "/health", s.instrument("health", s.handleHealth()))
	r.Handler(http.MethodHead, "/health", s.instrument("health", s.handleHealth()))
	r.Handler(http.MethodGet, "/health/live", s.instrument("live", s.handleLive()))
	r.Handler(http.MethodHead, "/health/live", s.instrument("live", s.handleLive()))
	r.Handler(http.MethodGet, "/health/ready", s.instrument("ready", s.handleReady()))
	r.Handler(http.MethodHead, "/health/ready", s.instrument("ready", s.handleReady()))
	r.Handler(http.MethodGet, "/robots.txt", s.instrument("robots", s.handleRobots()))
	r.Handler(http.MethodHead, "/robots.txt", s.instrument("robots", s.handleRobots()))
	r.Handler(http.MethodGet, "/", s.instrument("page", s.handleHome()))
	r.Handler(http.MethodHead, "/", s.instrument("page", s.handleHome()))
	r.Handler(http.MethodGet, "/manage", s.instrument("page", s.handleManage()))
	r.Handler(http.MethodHead, "/manage", s.instrument("page", s.handleManage()))
	r.Handler(http.MethodGet, "/manage/stats", s.instrument("page", s.handleStatsPage()))
	r.Handler(http.MethodHead, "/manage/stats", s.instrument("page", s.handleStatsPage()))
	r.Handler(http.MethodGet, "/manage/status", s.instrument("page", s.handleStatusPage()))
	r.Handler(http.MethodHead, "/manage/status", s.instrument("page", s.handleStatusPage()))
	r.Handler(http.MethodPost, "/", s.instrument("page", s.handleFormShorten()))
	r.Handler(http.MethodGet, "/static/*file", s.instrument("static", s.handleStatic()))
	r.Handler(http.MethodHead, "/static/*file", s.instrument("static", s.handleStatic()))
	s.shlinkRoutes(r.Router)
	s.yourlsRoutes(r.Router)
	r.NotFound = s.handleCode()
	s.routeList = append(s.routeList, "GET /{code}", "HEAD /{code}", "GET /{code}/qr", "HEAD /{code}/qr") // served by handleCode
	r.MethodNotAllowed = s.instrument("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.error(w, r, backend.Errorf(backend.EMETHODNOTALLOWED, "method %s is not allowed here", r.Method))
	}))
	r.PanicHandler = func(w http.ResponseWriter, r *http.Request, v any) {
		s.logger.Error("panic in handler", "panic", v, "path", r.URL.Path)
		s.error(w, r, backend.Errorf(backend.EINTERNAL, "internal error"))
	}
	return r.Router
}

// router records every route it registers, for Server.Routes.
type router struct {
	*httprouter.Router
	server *server
}

func (r *router) Handler(method, path string, h http.Handler) {
	r.server.routeList = append(r.server.routeList, method+" "+openAPIPath(path))
	r.Router.Handler(method, path, h)
}

// openAPIPath writes httprouter's /a/:b and /c/*d as /a/{b} and /c/{d}.
func openAPIPath(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "*") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}
