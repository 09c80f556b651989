package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kurzlink/kurz/internal/stack"
)

// bench is the system under test: the kurz stack with benchmark routers, and
// a Traefik without the plugin for the ceiling.
type bench struct {
	settings
	stack    *stack.Stack
	ceiling  *stack.Traefik    // the plugin's route answered by redirectRegex, configured as the edge's Traefik (no metrics, as shipped)
	floors   *stack.Traefik    // the floor plugins, in the same build
	metered  [2]*stack.Traefik // the ceiling with entrypoint metrics, and with router and service labels too: what they cost
	replica  *stack.Redis      // of the stack's Redis, for the failover
	sentinel *stack.Sentinel   // watching the stack's Redis as "kurz"
	state    string
	codes    []string   // seeded codes, in creation order
	idleRSS  [2]float64 // MB of Traefik with and without the plugin, before any load
}

func startBench(set settings) (*bench, error) {
	state, err := os.MkdirTemp("", "kurz-bench-")
	if err == nil {
		err = os.Chmod(state, 0o755) // PostgreSQL runs as its own user when we are root
	}
	if err != nil {
		return nil, err
	}
	ports := make([]int, 20)
	for i := range ports {
		if ports[i], err = stack.FreePort(); err != nil {
			return nil, err
		}
	}
	b := &bench{settings: set, state: state}
	b.stack, err = stack.Start(stack.Config{
		Root: set.root, StateDir: state,
		TraefikBin: filepath.Join(set.root, "bin", "traefik"), BackendBin: filepath.Join(set.root, "bin", "kurz"),
		HTTPPort: ports[0], APIPort: ports[1], RedisPort: ports[2], PostgresPort: ports[3],
		BackendPorts: ports[4:7], MetricsPorts: ports[7:10],
		Env: map[string]string{
			"KURZ_RATE_AVERAGE": "10000000", "KURZ_RATE_BURST": "10000000", // the limiter stays, out of the way
			"KURZ_LOG_LEVEL":      "warn",
			"KURZ_BENCH_SENTINEL": "127.0.0.1:" + strconv.Itoa(ports[12]),
		},
		ExtraTraefik: []string{filepath.Join(set.root, "traefik", "bench", "bench.yml")},
	})
	if err != nil {
		os.RemoveAll(state)
		return nil, fmt.Errorf("starting the stack: %w", err)
	}
	b.ceiling = &stack.Traefik{
		Bin: filepath.Join(set.root, "bin", "traefik"), Root: set.root, Dir: filepath.Join(state, "traefik-ceiling"),
		HTTPPort: ports[10], APIPort: ports[11], NoPlugin: true,
		Files: []string{filepath.Join(set.root, "traefik", "bench", "ceiling.yml")},
	}
	if err := b.ceiling.Start(); err != nil {
		b.stop()
		return nil, fmt.Errorf("starting the ceiling Traefik: %w", err)
	}
	for i, mode := range []string{"entrypoints", "all"} {
		b.metered[i] = &stack.Traefik{
			Bin: filepath.Join(set.root, "bin", "traefik"), Root: set.root, Dir: filepath.Join(state, "traefik-metrics-"+mode),
			HTTPPort: ports[14+i], APIPort: ports[16+i], NoPlugin: true, Metrics: mode,
			Files: []string{filepath.Join(set.root, "traefik", "bench", "ceiling.yml")},
		}
		if err := b.metered[i].Start(); err != nil {
			b.stop()
			return nil, fmt.Errorf("starting the ceiling Traefik with %s metrics: %w", mode, err)
		}
	}
	// The floors, the least an interpreted plugin does (cmd/kurz-bench/floor),
	// in a Traefik of the same build of their own: the edge's Traefik's memory stays the plugin's.
	b.floors = &stack.Traefik{
		Bin: filepath.Join(set.root, "bin", "traefik"), Root: set.root, Dir: filepath.Join(state, "traefik-floors"),
		HTTPPort: ports[18], APIPort: ports[19], Ready: "bench-floor-redis@file",
		Files: []string{filepath.Join(set.root, "traefik", "bench", "floors.yml")},
		Env:   []string{"KURZ_REDIS_ADDR=" + b.stack.Redis.Addr()},
		ExtraPlugins: map[string]string{
			"github.com/kurzlink/floormap":   filepath.Join(set.root, "cmd", "kurz-bench", "floor", "floormap"),
			"github.com/kurzlink/floorredis": filepath.Join(set.root, "cmd", "kurz-bench", "floor", "floorredis"),
		},
	}
	if err := b.floors.Start(); err != nil {
		b.stop()
		return nil, fmt.Errorf("starting the floors' Traefik: %w", err)
	}
	b.replica = &stack.Redis{Port: ports[13], Dir: filepath.Join(state, "redis-replica"), ReplicaOf: b.stack.Redis}
	b.sentinel = &stack.Sentinel{Port: ports[12], Dir: filepath.Join(state, "sentinel"), Master: b.stack.Redis, MasterName: "kurz", Quorum: 1}
	for _, start := range []func() error{func() error { return os.MkdirAll(b.replica.Dir, 0o755) }, b.replica.Start, b.sentinel.Start} {
		if err := start(); err != nil {
			b.stop()
			return nil, fmt.Errorf("starting the Redis replica and Sentinel: %w", err)
		}
	}
	b.idleRSS = [2]float64{rssMB(b.stack.Traefik.Pid()), rssMB(b.ceiling.Pid())}
	return b, nil
}

func (b *bench) stop() {
	for _, t := range []*stack.Traefik{b.ceiling, b.floors} {
		if t != nil {
			t.Stop()
		}
	}
	for _, t := range b.metered {
		if t != nil {
			t.Stop()
		}
	}
	if b.sentinel != nil {
		b.sentinel.Stop()
	}
	if b.replica != nil && b.replica.Running() {
		b.replica.Stop()
	}
	b.stack.Stop()
	os.RemoveAll(b.state)
}

// seed inserts the links straight into Postgres with the backend's own codec
// (as creation would) and fills their Redis entries.
func (b *bench) seed(ctx context.Context) error {
	codes, err := seedLinks(ctx, b.stack, b.links)
	if err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	b.codes = codes
	return b.routeFloorMap(ctx)
}

// routeFloorMap gives the map floor the seeded links (a file of "code URL"
// lines) and routes floor-map.bench to it, once Traefik has loaded it.
func (b *bench) routeFloorMap(ctx context.Context) error {
	var m strings.Builder
	for i, code := range b.codes {
		fmt.Fprintf(&m, "%s %s\n", code, seedURL(i))
	}
	mapFile := filepath.Join(b.state, "floor-map.txt")
	if err := os.WriteFile(mapFile, []byte(m.String()), 0o644); err != nil {
		return err
	}
	route := fmt.Sprintf(`http:
  routers:
    bench-floor-map:
      rule: "Host(%[1]sfloor-map.bench%[1]s) && (Method(%[1]sGET%[1]s) || Method(%[1]sHEAD%[1]s)) && PathRegexp(%[1]s^/[A-Za-z0-9_-]{7}$%[1]s)"
      priority: 1000
      middlewares: [bench-floor-map]
      service: bench-unused@file
  middlewares:
    bench-floor-map:
      plugin:
        floormap:
          mapFile: %[2]q
`, "`", mapFile)
	if err := os.WriteFile(filepath.Join(b.floors.Dir, "dynamic", "bench-floor-map.yml"), []byte(route), 0o644); err != nil {
		return err
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := client.Get(b.floors.APIURL() + "/api/http/routers/bench-floor-map@file")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("traefik did not load the map floor's route (%v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
