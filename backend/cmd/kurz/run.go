package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kurzlink/kurz"
	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/backend/geoip"
	kurzhttp "github.com/kurzlink/kurz/backend/http"
	"github.com/kurzlink/kurz/backend/postgres"
	"github.com/kurzlink/kurz/backend/redis"
	"github.com/kurzlink/kurz/link"
)

// run wires the backend and serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 1 {
		switch args[1] {
		case "--help", "-h", "help":
			return writeHelp(stdout)
		case "healthcheck": // for container health checks: the image has no curl
			return healthcheck(ctx, getenv)
		case "keys":
			return runKeys(ctx, args[2:], getenv, stdout)
		case "import":
			return runImport(ctx, args[2:], getenv, stdout)
		case "plugin-source": // for Traefik's init container on Kubernetes: the image has no cp
			if len(args) != 3 {
				return fmt.Errorf("usage: kurz plugin-source DIR (Traefik's plugins-local/src/github.com/kurzlink/kurz)")
			}
			return kurz.WritePluginSource(args[2])
		default:
			return fmt.Errorf("unknown command %q: run without arguments to serve, or use \"keys\", \"import\", \"healthcheck\", \"plugin-source\" or \"--help\"", args[1])
		}
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	logger := newLogger(stdout, cfg.LogLevel)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	db, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.ReplicaURL, cfg.PGTimeout, reg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateWithRetry(ctx, db, cfg.StartTimeout, logger); err != nil {
		return err
	}
	cache, err := redis.Open(cfg.RedisURL, cfg.Sentinel, cfg.RedisTimeout, reg)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	defer cache.Close()

	codec, err := link.NewCodec(cfg.CodeSecret)
	if err != nil {
		return err
	}
	if err := db.ClaimCodeSpace(ctx, codec); err != nil {
		return err
	}
	if err := cache.CheckEvictionPolicy(ctx); err != nil {
		var unsafe *redis.UnsafeConfigError
		if errors.As(err, &unsafe) {
			return err
		}
		logger.Warn("could not read redis's eviction policy", "err", err)
	}
	hits := backend.NewHitCounter(cache, db, cfg.FlushInterval, logger)
	folder := backend.NewHitFolder(cache, db, cfg.FlushInterval, logger)
	malformed := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kurz_hits_malformed_total", Help: "Fields of the pending counts in Redis that were not a code and a count, dropped.",
	})
	folder.Malformed = func(n int) { malformed.Add(float64(n)) }
	reg.MustRegister(malformed, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kurz_pending_hits", Help: "Visits counted in memory, not yet pushed to Redis.",
	}, func() float64 { return float64(hits.Pending()) }), prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "kurz_hits_folded_total", Help: "Visits this replica added to Postgres from the pending counts.",
	}, func() float64 { return float64(folder.Folded()) }))
	inval := backend.NewInvalidator(db, cache, 200*time.Millisecond, cfg.RedisTimeout, logger)
	blocklist, err := backend.NewBlocklist(cfg.Blocklist, logger)
	if err != nil {
		return fmt.Errorf("KURZ_BLOCKLIST must name a readable file of blocked domains (one a line, or hosts format): %w", err)
	}
	policy := backend.URLPolicy{MaxLength: cfg.MaxURLLength, Own: cfg.OwnURLs, Blocked: blocklist}
	links := backend.NewShortener(db, cache, codec, policy, hits, inval, cfg.RedirectCode, logger)
	links.Visits = db
	keys := backend.NewKeyRing(db, cfg.KeyCacheTTL)
	keys.Domains = cfg.Domains
	keys.SignatureSecret = backend.SignatureSecret(cfg.CodeSecret)
	var visits kurzhttp.VisitRecorder
	var analytics []func(context.Context)
	if cfg.Analytics {
		classifier := &backend.Classifier{FullReferrer: cfg.FullReferrer}
		if cfg.GeoIPDB != "" {
			geo, err := geoip.Open(cfg.GeoIPDB)
			if err != nil {
				return err
			}
			defer geo.Close()
			classifier.Geo = geo
		}
		recorder := backend.NewVisitRecorder(cache, cfg.FlushInterval, logger)
		visitFolder := backend.NewVisitFolder(cache, db, classifier, cfg.FlushInterval, logger)
		visitFolder.Retention = cfg.Retention
		visitFolder.Log = cfg.VisitLog
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "kurz_visits_folded_total", Help: "Visits this replica folded into the analytics roll-ups.",
		}, func() float64 { return float64(visitFolder.Folded()) }), prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "kurz_visits_malformed_total", Help: "Visits in the stream this replica could not read, skipped.",
		}, func() float64 { return float64(visitFolder.Malformed()) }), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kurz_visits_dropped", Help: "Visits a full visits stream refused (all edges and backends; Redis's visits:dropped).",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.RedisTimeout)
			defer cancel()
			n, _ := cache.DroppedVisits(ctx)
			return float64(n)
		}))
		visits = recorder
		analytics = append(analytics, recorder.Run, visitFolder.Run)
	}
	redirector := backend.NewDomainRedirector(db, cache, policy, cfg.Domains, logger)
	var draining atomic.Bool
	handler, err := kurzhttp.NewServer(logger, links, keys, kurzhttp.Config{
		PublicURL: cfg.PublicURL, Domains: cfg.Domains, Redirects: redirector, MaxBodyBytes: cfg.MaxBodyBytes,
		RedirectCode: cfg.RedirectCode, CacheControl: cfg.CacheControl, OpenKeyless: !cfg.RequireAPIKey,
		CORSOrigins: cfg.CORSOrigins, Draining: draining.Load, Visits: visits, YOURLSPasswords: cfg.YOURLSPasswords,
		Status: backend.NewMonitor(backend.StatusSources{Edges: cache, Visits: cache, Outbox: db, Store: db, Cache: cache}),
	}, reg)
	if err != nil {
		return err
	}

	// Background work outlives the servers: the last push of counts happens after they stop.
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	enforceBlocklist := func(ctx context.Context) {
		blocklist.Watch(ctx, 250*time.Millisecond, func(added []string) { links.EnforceBlocklist(ctx, added) })
	}
	codeSpace := backend.NewCodeSpace(db, cache, codec, logger)
	watchReplicas := func(ctx context.Context) { cache.WatchReplicas(ctx, 250*time.Millisecond) }
	for _, work := range append([]func(context.Context){hits.Run, folder.Run, inval.Run, enforceBlocklist, codeSpace.Run, watchReplicas, redirector.Run}, analytics...) {
		wg.Add(1)
		go func() { defer wg.Done(); work(bgCtx) }()
	}
	defer func() {
		stopBackground()
		wg.Wait()
		folder.Stop(context.Background()) // fold what this replica pushed last, hand the lease over
	}()

	servers := []*http.Server{{Addr: cfg.ListenAddr, Handler: handler, ReadHeaderTimeout: 5 * time.Second}}
	if cfg.MetricsAddr != "" && cfg.MetricsAddr != "off" {
		servers = append(servers, &http.Server{Addr: cfg.MetricsAddr, Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second})
	}
	drain := func() {
		if cfg.Drain > 0 {
			draining.Store(true)
			logger.Info("draining: not ready, still serving", "for", cfg.Drain.String())
			time.Sleep(cfg.Drain)
		}
	}
	return serve(ctx, logger, servers, drain)
}

// serve runs every server until ctx ends or one fails, then drains and shuts all down.
func serve(ctx context.Context, logger *slog.Logger, servers []*http.Server, drain func()) error {
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		ln, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			return err
		}
		logger.Info("listening", "addr", ln.Addr().String())
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
		drain()
		logger.Info("shutting down")
	case err = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, srv := range servers {
		if e := srv.Shutdown(shutdownCtx); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// migrateWithRetry waits for Postgres (it may start after us) and migrates.
func migrateWithRetry(ctx context.Context, db *postgres.DB, timeout time.Duration, logger *slog.Logger) error {
	deadline := time.Now().Add(timeout)
	for {
		err := db.Migrate(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		logger.Warn("postgres not ready, retrying", "err", err)
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// healthcheck asks this container's own server whether it can serve (/health/ready).
func healthcheck(ctx context.Context, getenv func(string) string) error {
	e := envReader{getenv: getenv}
	addr := e.str("KURZ_LISTEN_ADDR")
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/health/ready", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s", res.Status)
	}
	return nil
}
