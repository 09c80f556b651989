// Command kurz-bench measures kurz's redirect and create paths against
// baselines taken in the same run (make bench): it starts a stack of its own
// plus a plugin-free Traefik, seeds links, drives wrk and pgbench on loopback,
// and prints a markdown table with every target marked met or missed.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/kurzlink/kurz/internal/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kurz-bench:", err)
		os.Exit(1)
	}
}

// settings of one benchmark run, from the environment.
type settings struct {
	root        string
	outDir      string
	duration    time.Duration // of each measured scenario
	warmup      time.Duration
	connections int
	threads     int
	links       int
}

func loadSettings(getenv func(string) string) (settings, error) {
	root, err := os.Getwd()
	if err != nil {
		return settings{}, err
	}
	s := settings{root: root, outDir: filepath.Join(root, "out", "bench"), duration: 10 * time.Second,
		warmup: 2 * time.Second, connections: 64, threads: 2, links: 100000}
	if v := getenv("KURZ_BENCH_DURATION"); v != "" {
		if s.duration, err = time.ParseDuration(v); err != nil {
			return s, fmt.Errorf("KURZ_BENCH_DURATION: %w", err)
		}
	}
	if v := getenv("KURZ_BENCH_CONNECTIONS"); v != "" {
		if s.connections, err = strconv.Atoi(v); err != nil {
			return s, fmt.Errorf("KURZ_BENCH_CONNECTIONS: %w", err)
		}
	}
	if v := getenv("KURZ_BENCH_LINKS"); v != "" {
		if s.links, err = strconv.Atoi(v); err != nil {
			return s, fmt.Errorf("KURZ_BENCH_LINKS: %w", err)
		}
	}
	return s, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	set, err := loadSettings(getenv)
	if err != nil {
		return err
	}
	for _, tool := range []string{"wrk", "pgbench"} {
		if _, err := stack.LookPath("", tool, "/usr/lib/postgresql/*/bin/"+tool); err != nil {
			return fmt.Errorf("%w (make deps installs it)", err)
		}
	}
	started := time.Now()
	b, err := startBench(set)
	if err != nil {
		return err
	}
	defer b.stop()
	fmt.Fprintf(stdout, "stack up in %s; seeding %d links…\n", time.Since(started).Round(time.Second), set.links)
	if err := b.seed(ctx); err != nil {
		return err
	}
	res, err := b.measure(ctx, stdout)
	if err != nil {
		return err
	}
	res.Total = time.Since(started).Round(time.Second).String()
	return report(stdout, set.outDir, res)
}
