package stack

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
}

// Stack is the running system.
type Stack struct {
	Config
	Redis    *Redis
	Postgres *Postgres
	Backends []*Backend
	Traefik  *Traefik
	Secret   string // KURZ_CODE_SECRET of the backends
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
	s.Redis = &Redis{Port: cfg.RedisPort, Dir: filepath.Join(cfg.StateDir, "redis"), Persist: cfg.Durable}
	s.Postgres = &Postgres{Port: cfg.PostgresPort, Dir: filepath.Join(cfg.StateDir, "postgres"), Durable: cfg.Durable}
	s.Traefik = &Traefik{
		Bin: cfg.TraefikBin, Root: cfg.Root, Dir: filepath.Join(cfg.StateDir, "traefik"),
		Bind: cfg.Bind, HTTPPort: cfg.HTTPPort, APIPort: cfg.APIPort, ExtraFiles: cfg.ExtraTraefik,
	}
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
	secret, err := s.codeSecret()
	if err != nil {
		return err
	}
	s.Secret = secret
	env := []string{
		"DATABASE_URL=" + s.Postgres.URL("kurz"),
		"REDIS_URL=" + s.Redis.URL(),
		"KURZ_PUBLIC_URL=http://127.0.0.1:" + strconv.Itoa(cfg.HTTPPort),
		"KURZ_CODE_SECRET=" + secret,
	}
	settings := []string{"KURZ_REDIS_ADDR=" + s.Redis.Addr()}
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
		b := &Backend{Bin: cfg.BackendBin, Port: port, MetricsPort: metrics, Env: env,
			LogFile: logPath(cfg.StateDir, "backend-"+strconv.Itoa(i+1))}
		s.Backends = append(s.Backends, b)
		urls = append(urls, b.URL())
	}
	for _, b := range s.Backends { // concurrently would race only on migrations, which lock
		if err := b.Start(); err != nil {
			return err
		}
	}
	s.Traefik.BackendURLs = urls
	s.Traefik.Env = settings
	return s.Traefik.Start()
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

// Stop stops everything in reverse order; backends flush their counts first.
func (s *Stack) Stop() {
	if s.Traefik != nil && s.Traefik.proc != nil {
		s.Traefik.Stop()
	}
	for _, b := range s.Backends {
		if b.proc != nil {
			b.Stop()
		}
	}
	if s.Postgres != nil && s.Postgres.proc != nil {
		s.Postgres.Stop()
	}
	if s.Redis != nil && s.Redis.proc != nil {
		s.Redis.Stop()
	}
}
