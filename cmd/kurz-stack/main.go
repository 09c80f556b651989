// Command kurz-stack runs the whole kurz system locally as processes — Redis,
// PostgreSQL, backend replicas and Traefik with the edge plugin — until
// Ctrl-C or SIGTERM. `make run` builds what it needs and calls it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
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
	cfg, err := config(getenv)
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
  Traefik API       %[2]s/api/overview   (metrics: %[2]s/metrics, ping: %[2]s/ping)
  backend replicas  %[3]s
  logs              %[4]s
Press Ctrl-C to stop.
`, s.Traefik.URL(), s.Traefik.APIURL(), backendURLs(s), filepath.Join(cfg.StateDir, "logs"))
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping…")
	return nil
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
func config(getenv func(string) string) (stack.Config, error) {
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
	}
	replicas := port("KURZ_REPLICAS", 3)
	first := port("KURZ_BACKEND_PORT", 18081)
	for i := 0; i < replicas; i++ {
		cfg.BackendPorts = append(cfg.BackendPorts, first+i)
		cfg.MetricsPorts = append(cfg.MetricsPorts, first+1000+i)
	}
	// KURZ_* settings (rate limit, secret, …) reach the processes through the inherited environment.
	if len(errs) > 0 {
		return cfg, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return cfg, nil
}
