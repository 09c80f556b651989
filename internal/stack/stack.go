package stack

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config says where the stack lives and which ports it takes.
type Config struct {
	Root         string // repository root
	StateDir     string // data, logs, Traefik's working directory
	TraefikBin   string
	BackendBin   string
	Bind         string // address of the public entrypoint
	HTTPPort     int    // public entrypoint (Traefik)
	APIPort      int    // Traefik API, dashboard, ping, metrics (localhost only)
	RedisPort    int
	PostgresPort int
	BackendPorts []int // one per replica; metrics on port+1000 unless MetricsPorts
	MetricsPorts []int
	Durable      bool              // persist Redis and fsync Postgres (make run)
	Env          map[string]string // KURZ_* settings for backends and Traefik
	ExtraTraefik []string          // more dynamic configuration files
	HA           *HAConfig         // nil: one Redis, one Postgres, one Traefik
	AccessLog    string            // Traefik's access log: "" (off), "errors" or "all"
	Metrics      string            // Traefik's metrics: "" (none), "entrypoints" or "all"
	TraefikDebug bool              // /debug/pprof on Traefik's localhost-only API entrypoint
	// PrometheusPort, when set, starts Prometheus there, scraping the
	// backends (and Traefik, with its metrics on) with deploy/prometheus's rules.
	PrometheusPort int
	// Network, when set, runs each part on a host of its own (the partition
	// tests); Redis and Postgres settings below apply to every server.
	Network Network
	// EdgeEnv overrides settings for the Traefiks only (an edge reaching
	// Redis through a proxy of the test's, say).
	EdgeEnv map[string]string
	// RedisOptions are more redis-server options for the Redis servers (not the Sentinels).
	RedisOptions []string
	// ExtraDomains are short domains served beside the public entrypoint's
	// host, the default (KURZ_DOMAINS of the backends and the edge).
	ExtraDomains []string
}

// HAConfig adds what high availability needs: Redis replicas watched by
// Sentinels, a streaming Postgres replica, and a second Traefik.
type HAConfig struct {
	RedisReplicaPorts   []int // replicas of the first Redis
	SentinelPorts       []int // quorum: a majority of them
	MasterName          string
	PostgresReplicaPort int
	PostgresApplyDelay  time.Duration // a lagging Postgres replica (recovery_min_apply_delay)
	HTTPPort2, APIPort2 int           // the second Traefik
}

// Stack is the running system.
type Stack struct {
	Config
	Redis    *Redis
	Postgres *Postgres
	Backends []*Backend
	Traefik  *Traefik
	Secret   string // KURZ_CODE_SECRET of the backends

	// With HA: the first Redis's replicas, the Sentinels, the Postgres
	// replica, and every Traefik (Traefiks[0] is Traefik).
	RedisReplicas   []*Redis
	Sentinels       []*Sentinel
	PostgresReplica *Postgres
	Traefiks        []*Traefik

	Prometheus *Prometheus // with PrometheusPort
}

// Start brings up Redis, Postgres, the replicas and Traefik, in that order,
// each healthy before the next; on error it stops what it started.
func Start(cfg Config) (*Stack, error) {
	s := &Stack{Config: cfg}
	if err := s.start(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Stack) start() error {
	cfg := s.Config
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return err
	}
	places := map[string]Place{}
	for _, name := range []string{"redis", "postgres", "traefik"} {
		p, err := s.place(name)
		if err != nil {
			return err
		}
		places[name] = p
	}
	s.Redis = &Redis{Place: places["redis"], Port: cfg.RedisPort, Dir: filepath.Join(cfg.StateDir, "redis"), Persist: cfg.Durable, Extra: cfg.RedisOptions}
	s.Postgres = &Postgres{Place: places["postgres"], Port: cfg.PostgresPort, Dir: filepath.Join(cfg.StateDir, "postgres"), Durable: cfg.Durable}
	s.Traefik = &Traefik{
		Place: places["traefik"],
		Bin:   cfg.TraefikBin, Root: cfg.Root, Dir: filepath.Join(cfg.StateDir, "traefik"),
		Bind: cfg.Bind, HTTPPort: cfg.HTTPPort, APIPort: cfg.APIPort, ExtraFiles: cfg.ExtraTraefik, AccessLogMode: cfg.AccessLog, Metrics: cfg.Metrics,
		TrustedIPs: splitList(cfg.Env["KURZ_TRUSTED_PROXIES"]), Debug: cfg.TraefikDebug,
	}
	s.Traefiks = []*Traefik{s.Traefik}
	if err := os.MkdirAll(s.Redis.Dir, 0o755); err != nil {
		return err
	}
	if err := s.Redis.Start(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	if err := s.Postgres.Start(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := s.Postgres.CreateDatabase("kurz"); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	ha, err := s.startHA()
	if err != nil {
		return err
	}
	secret, err := s.codeSecret()
	if err != nil {
		return err
	}
	s.Secret = secret
	env := []string{
		"DATABASE_URL=" + s.Postgres.URL("kurz"),
		"REDIS_URL=" + s.Redis.URL(),
		"KURZ_PUBLIC_URL=" + s.Traefik.URL(),
		"KURZ_CODE_SECRET=" + secret,
	}
	settings := append([]string{"KURZ_REDIS_ADDR=" + s.Redis.Addr()}, ha.settings...)
	if len(cfg.ExtraDomains) > 0 {
		u, _ := url.Parse(s.Traefik.URL())
		settings = append(settings, "KURZ_DOMAINS="+strings.Join(append([]string{u.Hostname()}, cfg.ExtraDomains...), ","))
	}
	env = append(env, ha.backendEnv...)
	for k, v := range cfg.Env {
		settings = append(settings, k+"="+v)
	}
	env = append(env, settings...)
	var urls []string
	for i, port := range cfg.BackendPorts {
		metrics := port + 1000
		if i < len(cfg.MetricsPorts) {
			metrics = cfg.MetricsPorts[i]
		}
		place, err := s.place("backend-" + strconv.Itoa(i+1))
		if err != nil {
			return err
		}
		b := &Backend{Place: place, Bin: cfg.BackendBin, Port: port, MetricsPort: metrics, Env: env,
			LogFile: logPath(cfg.StateDir, "backend-"+strconv.Itoa(i+1))}
		s.Backends = append(s.Backends, b)
		urls = append(urls, b.URL())
	}
	for _, b := range s.Backends { // concurrently would race only on migrations, which lock
		if err := b.Start(); err != nil {
			return err
		}
	}
	for _, t := range s.Traefiks {
		t.BackendURLs = urls
		t.Env = append([]string{"KURZ_CODE_SECRET=" + secret}, settings...) // the edge answers unknown codes
		for k, v := range cfg.EdgeEnv {
			t.Env = append(t.Env, k+"="+v) // the last of a name wins
		}
		if err := t.Start(); err != nil {
			return err
		}
	}
	if cfg.PrometheusPort != 0 {
		s.Prometheus = &Prometheus{Port: cfg.PrometheusPort, Dir: filepath.Join(cfg.StateDir, "prometheus"),
			Rules: filepath.Join(cfg.Root, "deploy", "prometheus", "kurz.rules.yml")}
		for _, b := range s.Backends {
			s.Prometheus.Targets = append(s.Prometheus.Targets, "127.0.0.1:"+strconv.Itoa(b.MetricsPort))
		}
		if cfg.Metrics != "" {
			for _, t := range s.Traefiks {
				s.Prometheus.Traefik = append(s.Prometheus.Traefik, "127.0.0.1:"+strconv.Itoa(t.APIPort))
			}
		}
		if err := s.Prometheus.Start(); err != nil {
			return fmt.Errorf("prometheus: %w", err)
		}
	}
	return nil
}

// haSettings are what the HA parts add to the environment of the backends
// (backendEnv) and of the backends and Traefiks alike (settings).
type haSettings struct{ backendEnv, settings []string }

// startHA starts the Redis replicas, the Sentinels and the Postgres replica,
// and adds the second Traefik; nothing without cfg.HA.
func (s *Stack) startHA() (haSettings, error) {
	ha := s.HA
	if ha == nil {
		return haSettings{}, nil
	}
	for i, port := range ha.RedisReplicaPorts {
		place, err := s.place("redis-" + strconv.Itoa(i+2))
		if err != nil {
			return haSettings{}, err
		}
		r := &Redis{Place: place, Port: port, Dir: filepath.Join(s.StateDir, "redis-"+strconv.Itoa(i+2)), Persist: s.Durable, ReplicaOf: s.Redis, Extra: s.RedisOptions}
		s.RedisReplicas = append(s.RedisReplicas, r)
		if err := os.MkdirAll(r.Dir, 0o755); err != nil {
			return haSettings{}, err
		}
		if err := r.Start(); err != nil {
			return haSettings{}, fmt.Errorf("redis replica: %w", err)
		}
	}
	if err := s.Redis.waitReplicas(len(s.RedisReplicas), 30*time.Second); err != nil {
		return haSettings{}, err
	}
	var sentinels []string
	for i, port := range ha.SentinelPorts {
		place, err := s.place("sentinel-" + strconv.Itoa(i+1))
		if err != nil {
			return haSettings{}, err
		}
		sn := &Sentinel{Place: place, Port: port, Dir: filepath.Join(s.StateDir, "sentinel-"+strconv.Itoa(i+1)), Master: s.Redis,
			MasterName: ha.MasterName, Quorum: len(ha.SentinelPorts)/2 + 1}
		s.Sentinels = append(s.Sentinels, sn)
		if err := sn.Start(); err != nil {
			return haSettings{}, fmt.Errorf("sentinel: %w", err)
		}
		sentinels = append(sentinels, sn.Addr())
	}
	place, err := s.place("postgres-replica")
	if err != nil {
		return haSettings{}, err
	}
	s.PostgresReplica = &Postgres{Place: place, Port: ha.PostgresReplicaPort, Dir: filepath.Join(s.StateDir, "postgres-replica"), Durable: s.Durable,
		Primary: s.Postgres, ApplyDelay: ha.PostgresApplyDelay}
	place, err = s.place("traefik-2")
	if err != nil {
		return haSettings{}, err
	}
	if err := s.PostgresReplica.Start(); err != nil {
		return haSettings{}, fmt.Errorf("postgres replica: %w", err)
	}
	s.Traefiks = append(s.Traefiks, &Traefik{
		Place: place,
		Bin:   s.TraefikBin, Root: s.Root, Dir: filepath.Join(s.StateDir, "traefik-2"),
		Bind: s.Bind, HTTPPort: ha.HTTPPort2, APIPort: ha.APIPort2, ExtraFiles: s.ExtraTraefik, AccessLogMode: s.AccessLog, Metrics: s.Metrics,
		TrustedIPs: splitList(s.Env["KURZ_TRUSTED_PROXIES"]),
	})
	return haSettings{
		backendEnv: []string{"DATABASE_REPLICA_URL=" + s.PostgresReplica.URL("kurz")},
		settings:   []string{"KURZ_REDIS_SENTINELS=" + strings.Join(sentinels, ","), "KURZ_REDIS_MASTER_NAME=" + ha.MasterName},
	}, nil
}

// codeSecret is the stack's KURZ_CODE_SECRET: from Env, else made once and kept in the state directory.
func (s *Stack) codeSecret() (string, error) {
	if v := s.Env["KURZ_CODE_SECRET"]; v != "" {
		return v, nil
	}
	path := filepath.Join(s.StateDir, "code-secret")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(buf)
	return secret, os.WriteFile(path, []byte(secret+"\n"), 0o600)
}

// Stop stops everything in reverse order; Traefiks and backends flush their counts first.
func (s *Stack) Stop() {
	if s.Prometheus != nil && s.Prometheus.proc != nil {
		s.Prometheus.Stop()
	}
	for _, t := range s.Traefiks {
		if t.proc != nil {
			t.Stop()
		}
	}
	for _, b := range s.Backends {
		if b.proc != nil {
			b.Stop()
		}
	}
	for _, p := range []*Postgres{s.PostgresReplica, s.Postgres} {
		if p != nil && p.proc != nil {
			p.Stop()
		}
	}
	for _, sn := range s.Sentinels {
		if sn.proc != nil {
			sn.Stop()
		}
	}
	for _, r := range append(s.RedisReplicas, s.Redis) {
		if r != nil && r.proc != nil {
			r.Stop()
		}
	}
}

// splitList splits a comma-separated setting, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
