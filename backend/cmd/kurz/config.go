package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// config is every setting, read from the environment.
type config struct {
	ListenAddr    string
	MetricsAddr   string
	DatabaseURL   string
	RedisURL      string
	PublicURL     string
	CodeSecret    string
	MaxURLLength  int
	MaxBodyBytes  int64
	RedirectCode  int
	CacheControl  string
	FlushInterval time.Duration
	PGTimeout     time.Duration
	RedisTimeout  time.Duration
	StartTimeout  time.Duration
	LogLevel      string
	RequireAPIKey bool // POST /api/shorten needs a key too
}

func loadConfig(getenv func(string) string) (config, error) {
	e := envReader{getenv: getenv}
	c := config{
		ListenAddr:    e.str("KURZ_LISTEN_ADDR", ":8080"),
		MetricsAddr:   e.str("KURZ_METRICS_ADDR", "127.0.0.1:9100"),
		DatabaseURL:   e.str("DATABASE_URL", "postgres://kurz:kurz@127.0.0.1:5432/kurz?sslmode=disable"),
		RedisURL:      e.str("REDIS_URL", "redis://127.0.0.1:6379/0"),
		PublicURL:     strings.TrimRight(e.str("KURZ_PUBLIC_URL", "http://localhost:8000"), "/"),
		CodeSecret:    e.str("KURZ_CODE_SECRET", ""),
		MaxURLLength:  e.int("KURZ_MAX_URL_LENGTH", 2048),
		MaxBodyBytes:  int64(e.int("KURZ_MAX_BODY_BYTES", 8<<10)),
		RedirectCode:  e.int("KURZ_REDIRECT_STATUS", 301),
		CacheControl:  e.str("KURZ_CACHE_CONTROL", "private, max-age=90"),
		FlushInterval: e.duration("KURZ_HIT_FLUSH_INTERVAL", time.Second),
		PGTimeout:     e.duration("KURZ_POSTGRES_TIMEOUT", 3*time.Second),
		RedisTimeout:  e.duration("KURZ_REDIS_TIMEOUT", 250*time.Millisecond),
		StartTimeout:  e.duration("KURZ_START_TIMEOUT", 30*time.Second),
		LogLevel:      e.str("KURZ_LOG_LEVEL", "info"),
		RequireAPIKey: e.str("KURZ_REQUIRE_API_KEY", "false") == "true",
	}
	if e.err != nil {
		return c, e.err
	}
	if c.CodeSecret == "" {
		return c, fmt.Errorf("KURZ_CODE_SECRET is required: a long random string (e.g. openssl rand -hex 32); changing it later changes the codes of new links")
	}
	switch c.RedirectCode {
	case 301, 302, 307, 308:
	default:
		return c, fmt.Errorf("KURZ_REDIRECT_STATUS must be 301, 302, 307 or 308, not %d", c.RedirectCode)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("KURZ_PUBLIC_URL must be an absolute http(s) URL, not %q", c.PublicURL)
	}
	if c.MaxURLLength <= 0 || c.MaxBodyBytes <= 0 || c.FlushInterval <= 0 || c.PGTimeout <= 0 || c.RedisTimeout <= 0 {
		return c, fmt.Errorf("limits, timeouts and intervals must be positive")
	}
	return c, nil
}

type envReader struct {
	getenv func(string) string
	err    error
}

func (e *envReader) str(key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
}

func (e *envReader) int(key string, def int) int {
	v := e.getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil && e.err == nil {
		e.err = fmt.Errorf("%s must be an integer, not %q", key, v)
	}
	return n
}

func (e *envReader) duration(key string, def time.Duration) time.Duration {
	v := e.getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil && e.err == nil {
		e.err = fmt.Errorf("%s must be a duration such as 500ms or 2s, not %q", key, v)
	}
	return d
}
