// Command kurz-stack runs the whole kurz system locally as processes — Redis,
// PostgreSQL, backend replicas and Traefik with the edge plugin — until
// Ctrl-C or SIGTERM. `make run` builds what it needs and calls it; `make
// run-ha` calls `kurz-stack ha`, which adds Redis replicas and Sentinels, a
// Postgres streaming replica and a second Traefik.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/kurzlink/kurz/internal/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kurz-stack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	ha := len(args) > 1 && args[1] == "ha"
	if len(args) > 1 && !ha {
		return fmt.Errorf("unknown argument %q: run without arguments, or with \"ha\" for the high-availability stack", args[1])
	}
	cfg, err := config(getenv, ha)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "starting Redis, PostgreSQL, %d backend replicas and Traefik (state in %s)…\n", len(cfg.BackendPorts), cfg.StateDir)
	s, err := stack.Start(cfg)
	if err != nil {
		return err
	}
	defer s.Stop()
	fmt.Fprintf(stdout, `
kurz is running.
  shortener         %[1]s   (try: curl -si -X POST %[1]s/api/shorten -H 'Content-Type: application/json' -d '{"url":"https://example.com/x"}')
  Traefik API       %[2]s/api/overview   (ping: %[2]s/ping, dashboard: %[2]s/dashboard/)
  Traefik metrics   %[5]s
  backend replicas  %[3]s
  logs              %[4]s
`, s.Traefik.URL(), s.Traefik.APIURL(), backendURLs(s), filepath.Join(cfg.StateDir, "logs"), metricsLine(cfg.Metrics, s.Traefik.APIURL()))
	if s.Prometheus != nil {
		fmt.Fprintf(stdout, "  Prometheus        %s   (try: %s/api/v1/query?query=kurz:edge_hit_ratio:rate1m)\n", s.Prometheus.URL(), s.Prometheus.URL())
	}
	if ha {
		printHA(stdout, s)
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping…")
	return nil
}

// metricsLine says where Traefik's metrics are, or how to turn them on.
func metricsLine(mode, apiURL string) string {
	if mode == "" {
		return "off (they cost a quarter of a redirect's rate; KURZ_TRAEFIK_METRICS=entrypoints or all)"
	}
	return apiURL + "/metrics (" + mode + ")"
}

// printHA lists what the high-availability stack adds.
func printHA(w io.Writer, s *stack.Stack) {
	var redis, sentinels []string
	for _, r := range append([]*stack.Redis{s.Redis}, s.RedisReplicas...) {
		redis = append(redis, r.Addr())
	}
	for _, sn := range s.Sentinels {
		sentinels = append(sentinels, sn.Addr())
	}
	fmt.Fprintf(w, `
High availability:
  second Traefik    %s   (API %s)
  Redis             %s   (master first, watched as %q)
  Sentinels         %s
  Postgres replica  %s
`, s.Traefiks[1].URL(), s.Traefiks[1].APIURL(), strings.Join(redis, " "), s.HA.MasterName, strings.Join(sentinels, " "), s.PostgresReplica.URL("kurz"))
}

func backendURLs(s *stack.Stack) string {
	var urls []string
	for _, b := range s.Backends {
		urls = append(urls, b.URL())
	}
	return strings.Join(urls, " ")
}

// config reads the ports and paths from the environment, with defaults that
// stay clear of system-wide Redis and PostgreSQL.
func config(getenv func(string) string, ha bool) (stack.Config, error) {
	root, err := os.Getwd()
	if err != nil {
		return stack.Config{}, err
	}
	get := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var errs []string
	port := func(key string, def int) int {
		n, err := strconv.Atoi(get(key, strconv.Itoa(def)))
		if err != nil || n <= 0 || n > 65535 {
			errs = append(errs, key+" must be a port number")
		}
		return n
	}
	cfg := stack.Config{
		Root:         root,
		StateDir:     get("KURZ_STATE_DIR", filepath.Join(root, ".state")),
		TraefikBin:   get("KURZ_TRAEFIK_BIN", filepath.Join(root, "bin", "traefik")),
		BackendBin:   get("KURZ_BACKEND_BIN", filepath.Join(root, "bin", "kurz")),
		Bind:         get("KURZ_BIND", "127.0.0.1"),
		HTTPPort:     port("KURZ_HTTP_PORT", 8000),
		APIPort:      port("KURZ_API_PORT", 8080),
		RedisPort:    port("KURZ_REDIS_PORT", 16379),
		PostgresPort: port("KURZ_POSTGRES_PORT", 15432),
		Durable:      true,
		Env:          map[string]string{},
		ExtraDomains: []string{"localhost"}, // two short domains: links on each, as a team with several has
	}
	// Proxies in front of Traefik whose X-Forwarded-For it keeps (visit analytics' addresses).
	if v := get("KURZ_TRUSTED_PROXIES", ""); v != "" {
		cfg.Env["KURZ_TRUSTED_PROXIES"] = v
	}
	// off (or empty) or one of the levels; "" means off to the stack.
	level := func(key string, levels ...string) string {
		v := get(key, "")
		if v == "" || v == "off" {
			return ""
		}
		if !slices.Contains(levels, v) {
			errs = append(errs, key+" must be off, "+strings.Join(levels, " or "))
		}
		return v
	}
	cfg.AccessLog = level("KURZ_TRAEFIK_ACCESS_LOG", "errors", "all")
	cfg.Metrics = level("KURZ_TRAEFIK_METRICS", "entrypoints", "all")
	cfg.TraefikDebug = get("KURZ_TRAEFIK_DEBUG", "") == "true"
	switch get("KURZ_PROMETHEUS", "false") {
	case "true":
		cfg.PrometheusPort = port("KURZ_PROMETHEUS_PORT", 9090)
	case "false":
	default:
		errs = append(errs, "KURZ_PROMETHEUS must be true or false")
	}
	replicas := port("KURZ_REPLICAS", 3)
	first := port("KURZ_BACKEND_PORT", 18081)
	for i := 0; i < replicas; i++ {
		cfg.BackendPorts = append(cfg.BackendPorts, first+i)
		cfg.MetricsPorts = append(cfg.MetricsPorts, first+1000+i)
	}
	if ha {
		cfg.StateDir = get("KURZ_STATE_DIR", filepath.Join(root, ".state", "ha"))
		redis, sentinel := cfg.RedisPort, port("KURZ_SENTINEL_PORT", 26379)
		cfg.HA = &stack.HAConfig{
			RedisReplicaPorts:   []int{redis + 1, redis + 2},
			SentinelPorts:       []int{sentinel, sentinel + 1, sentinel + 2},
			MasterName:          get("KURZ_REDIS_MASTER_NAME", "kurz"),
			PostgresReplicaPort: port("KURZ_POSTGRES_REPLICA_PORT", cfg.PostgresPort+1),
			HTTPPort2:           port("KURZ_HTTP_PORT_2", cfg.HTTPPort+1),
			APIPort2:            port("KURZ_API_PORT_2", cfg.APIPort+1),
		}
	}
	// KURZ_* settings (rate limit, secret, …) reach the processes through the inherited environment.
	if len(errs) > 0 {
		return cfg, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return cfg, nil
}
