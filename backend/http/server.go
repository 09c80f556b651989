// Package http is kurz's HTTP API: routes, JSON handling, error statuses and metrics.
package http

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kurzlink/kurz/backend"
)

// Links is what the HTTP layer needs from the domain.
type Links interface {
	Shorten(ctx context.Context, rawURL string) (backend.Link, bool, error)
	Resolve(ctx context.Context, code string) (string, error)
	Lookup(ctx context.Context, code string) (string, error) // Resolve without counting
	Health(ctx context.Context) error
}

// Config holds the HTTP settings.
type Config struct {
	PublicURL    string // base of short_url, without trailing slash
	MaxBodyBytes int64
	RedirectCode int    // 301 unless set
	CacheControl string // sent with redirects
}

type server struct {
	links   Links
	logger  *slog.Logger
	cfg     Config
	metrics *metrics
}

// NewServer returns the public handler; its metrics go to reg.
func NewServer(logger *slog.Logger, links Links, cfg Config, reg prometheus.Registerer) (http.Handler, error) {
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
	s := &server{links: links, logger: logger, cfg: cfg, metrics: m}
	return s.routes(), nil
}
