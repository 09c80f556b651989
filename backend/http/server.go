// Package http is kurz's HTTP API: routes, JSON handling, error statuses and metrics.
package http

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

// Links is what the HTTP layer needs from the domain.
type Links interface {
	Shorten(ctx context.Context, req backend.CreateRequest) (backend.Link, bool, error)
	Resolve(ctx context.Context, code, rawQuery string) (string, int, error) // target and status; counts the visit
	Lookup(ctx context.Context, code string) (backend.Link, error)           // a live link, not counted
	Suggest(raw string) string                                               // the https form of a URL typed without a scheme, or ""
	Report(ctx context.Context, code, reason string) (backend.Report, error)
	Reports(ctx context.Context, actor backend.Actor, limit int) ([]backend.Report, error)
	Get(ctx context.Context, actor backend.Actor, code string) (backend.Link, error)
	List(ctx context.Context, actor backend.Actor, q backend.ListQuery) ([]backend.Link, string, error)
	Update(ctx context.Context, actor backend.Actor, code string, p backend.LinkPatch) (backend.Link, error)
	Delete(ctx context.Context, actor backend.Actor, code string) error
	Crawlable(ctx context.Context, domain string) ([]string, error)                                           // the codes crawlers may follow, for /robots.txt
	Stats(ctx context.Context, actor backend.Actor, code string, q backend.StatsQuery) (backend.Stats, error) // code "": every link
	VisitLog(ctx context.Context, actor backend.Actor, q backend.VisitLogQuery) ([]backend.LoggedVisit, string, error)
	// What Shlink's API needs besides: numbered pages, visit summaries, tags.
	Page(ctx context.Context, actor backend.Actor, q backend.ListQuery) ([]backend.Link, int64, error)
	VisitPage(ctx context.Context, actor backend.Actor, q backend.VisitLogQuery) ([]backend.LoggedVisit, int64, error)
	Summaries(ctx context.Context, links []backend.Link) (map[string]backend.VisitSummary, error)
	VisitTotals(ctx context.Context, actor backend.Actor) (backend.VisitSummary, error)
	DeleteVisits(ctx context.Context, actor backend.Actor, code string) (int64, error)
	Tags(ctx context.Context, actor backend.Actor) ([]backend.TagStat, error)
	RenameTag(ctx context.Context, actor backend.Actor, from, to string) error
	DeleteTags(ctx context.Context, actor backend.Actor, tags []string) error
	Health(ctx context.Context) error
	Ready(ctx context.Context) error
}

// Keys checks API keys and says whose they are.
type Keys interface {
	Check(ctx context.Context, key string) (backend.Actor, error)
	// CheckSignature checks YOURLS's timestamp signature (backend.KeyRing.CheckSignature).
	CheckSignature(ctx context.Context, timestamp, hashName, signature string, now time.Time) (backend.Actor, error)
}

// Config holds the HTTP settings.
type Config struct {
	PublicURL    string          // base of short_url, without trailing slash
	Domains      backend.Domains // the short domains served, the default (PublicURL's host) first
	Redirects    *backend.DomainRedirector
	MaxBodyBytes int64
	RedirectCode int           // 301 unless set
	CacheControl string        // sent with redirects
	OpenKeyless  bool          // POST /api/shorten without a key (the management API always needs one)
	CORSOrigins  []string      // origins whose pages may call /api/ from a browser; none by default
	Draining     func() bool   // true once the replica is stopping: /health/ready answers 503
	Visits       VisitRecorder // where GET redirects are recorded for analytics; nil: off
	Status       StatusReader  // the operator's status; nil: none
	// YOURLSPasswords lets YOURLS's username and password (a key's name and the key) in.
	YOURLSPasswords bool
}

// VisitRecorder takes the raw visits the backend redirects.
type VisitRecorder interface {
	Record(v link.Visit)
}

type server struct {
	routeList []string
	compat    []string // the routes of Shlink's and YOURLS's APIs
	links     Links
	keys      Keys
	logger    *slog.Logger
	cfg       Config
	metrics   *metrics
}

// Server is the public handler.
type Server struct {
	http.Handler
	routes []string
	compat []string
}

// Routes lists every route of kurz's own API as "METHOD /path/{param}".
func (s *Server) Routes() []string { return s.routes }

// CompatRoutes lists the routes of the other shorteners' APIs kurz speaks (Shlink's, YOURLS's).
func (s *Server) CompatRoutes() []string { return s.compat }

// NewServer returns the public handler; its metrics go to reg.
func NewServer(logger *slog.Logger, links Links, keys Keys, cfg Config, reg prometheus.Registerer) (*Server, error) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 8 << 10
	}
	if cfg.RedirectCode == 0 {
		cfg.RedirectCode = http.StatusMovedPermanently
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &server{links: links, keys: keys, logger: logger, cfg: cfg, metrics: m}
	h := s.cors(s.routes())
	return &Server{Handler: h, routes: s.routeList, compat: s.compat}, nil
}
