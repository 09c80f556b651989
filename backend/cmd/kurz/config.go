package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/backend/redis"
	"github.com/kurzlink/kurz/link"
)

// config is every setting, read from the environment.
type config struct {
	ListenAddr      string
	MetricsAddr     string
	DatabaseURL     string
	ReplicaURL      string // DATABASE_REPLICA_URL: reads that may lag; empty: none
	RedisURL        string
	Sentinel        redis.Sentinel // KURZ_REDIS_SENTINELS: the master comes from Sentinel
	PublicURL       string
	CodeSecret      string
	MaxURLLength    int
	MaxBodyBytes    int64
	RedirectCode    int
	CacheControl    string
	FlushInterval   time.Duration
	PGTimeout       time.Duration
	RedisTimeout    time.Duration
	StartTimeout    time.Duration
	Drain           time.Duration // after SIGTERM: not ready, still serving, for this long
	KeyCacheTTL     time.Duration // how long a checked key is remembered: the revocation bound
	LogLevel        string
	RequireAPIKey   bool          // POST /api/shorten needs a key too
	YOURLSPasswords bool          // YOURLS's username and password are accepted
	CORSOrigins     []string      // origins whose pages may call the API from a browser
	Blocklist       string        // a file of blocked domains, read again when it changes
	Analytics       bool          // record and fold visit analytics
	FullReferrer    bool          // keep referrers' URLs, not only their hosts
	GeoIPDB         string        // a MaxMind-format country database; empty: countries unknown
	Retention       time.Duration // how long visit roll-ups are kept; 0: until deleted
	VisitLog        backend.VisitLogSettings
	DomainNames     []string        // KURZ_DOMAINS as given
	Domains         backend.Domains // the default (PublicURL's host) first
	OwnURLs         []string        // the public URL on every domain: links to them are refused
}

func loadConfig(getenv func(string) string) (config, error) {
	e := envReader{getenv: getenv}
	c := config{
		ListenAddr:      e.str("KURZ_LISTEN_ADDR"),
		MetricsAddr:     e.str("KURZ_METRICS_ADDR"),
		DatabaseURL:     e.str("DATABASE_URL"),
		ReplicaURL:      e.str("DATABASE_REPLICA_URL"),
		RedisURL:        e.str("REDIS_URL"),
		PublicURL:       strings.TrimRight(e.str("KURZ_PUBLIC_URL"), "/"),
		DomainNames:     e.list("KURZ_DOMAINS"),
		CodeSecret:      e.str("KURZ_CODE_SECRET"),
		MaxURLLength:    e.int("KURZ_MAX_URL_LENGTH"),
		MaxBodyBytes:    int64(e.int("KURZ_MAX_BODY_BYTES")),
		RedirectCode:    e.int("KURZ_REDIRECT_STATUS"),
		CacheControl:    e.str("KURZ_CACHE_CONTROL"),
		FlushInterval:   e.duration("KURZ_HIT_FLUSH_INTERVAL"),
		PGTimeout:       e.duration("KURZ_POSTGRES_TIMEOUT"),
		RedisTimeout:    e.duration("KURZ_REDIS_TIMEOUT"),
		StartTimeout:    e.duration("KURZ_START_TIMEOUT"),
		Drain:           e.duration("KURZ_SHUTDOWN_DRAIN"),
		KeyCacheTTL:     e.duration("KURZ_KEY_CACHE_TTL"),
		LogLevel:        e.str("KURZ_LOG_LEVEL"),
		RequireAPIKey:   e.bool("KURZ_REQUIRE_API_KEY"),
		YOURLSPasswords: e.bool("KURZ_YOURLS_PASSWORDS"),
		CORSOrigins:     e.list("KURZ_CORS_ORIGINS"),
		Blocklist:       e.str("KURZ_BLOCKLIST"),
		Analytics:       e.bool("KURZ_ANALYTICS"),
		FullReferrer:    e.bool("KURZ_ANALYTICS_FULL_REFERRER"),
		GeoIPDB:         e.str("KURZ_GEOIP_DB"),
		Retention:       e.duration("KURZ_ANALYTICS_RETENTION"),
		VisitLog: backend.VisitLogSettings{
			Retention: e.duration("KURZ_VISIT_LOG_RETENTION"), FullUserAgent: e.bool("KURZ_VISIT_LOG_FULL_UA"),
		},
		Sentinel: redis.Sentinel{
			Addrs: e.list("KURZ_REDIS_SENTINELS"), MasterName: e.str("KURZ_REDIS_MASTER_NAME"),
			Username: e.str("KURZ_REDIS_SENTINEL_USERNAME"), Password: e.str("KURZ_REDIS_SENTINEL_PASSWORD"),
		},
	}
	if e.err != nil {
		return c, e.err
	}
	if c.Retention != 0 && c.Retention < 24*time.Hour {
		return c, fmt.Errorf("KURZ_ANALYTICS_RETENTION must be at least 24h (roll-ups are hourly), such as 2160h for 90 days, or 0 to keep them; not %s", c.Retention)
	}
	if c.VisitLog.Retention != 0 && c.VisitLog.Retention < backend.MinVisitLogRetention {
		return c, fmt.Errorf("KURZ_VISIT_LOG_RETENTION must be at least 24h (the log is dropped by day), such as 720h for 30 days, or 0s to keep no visit log; not %s", c.VisitLog.Retention)
	}
	if (len(c.Sentinel.Addrs) > 0) != (c.Sentinel.MasterName != "") {
		return c, fmt.Errorf("KURZ_REDIS_SENTINELS and KURZ_REDIS_MASTER_NAME go together: the Sentinels' host:port list and the master's name")
	}
	for _, a := range c.Sentinel.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return c, fmt.Errorf("KURZ_REDIS_SENTINELS entry %q must be host:port", a)
		}
	}
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			return c, fmt.Errorf("KURZ_CORS_ORIGINS entry %q must be an origin such as https://app.example.com (scheme and host, no path)", o)
		}
	}
	if err := checkCodeSecret(c.CodeSecret); err != nil {
		return c, err
	}
	if !link.IsRedirectStatus(c.RedirectCode) {
		return c, fmt.Errorf("KURZ_REDIRECT_STATUS must be %s, not %d", link.RedirectStatuses, c.RedirectCode)
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("KURZ_PUBLIC_URL must be an absolute http(s) URL, not %q", c.PublicURL)
	}
	names := c.DomainNames
	if len(names) == 0 {
		names = []string{u.Hostname()}
	}
	if c.Domains, err = backend.ParseDomains(names); err != nil {
		return c, fmt.Errorf("KURZ_DOMAINS: %s", backend.ErrorMessage(err))
	}
	if def := c.Domains.Name(""); def != strings.ToLower(u.Hostname()) {
		return c, fmt.Errorf("KURZ_DOMAINS' first entry is the default domain and must be KURZ_PUBLIC_URL's host %q, not %q: put %s first, or change KURZ_PUBLIC_URL", u.Hostname(), def, u.Hostname())
	}
	for _, name := range c.Domains.Names() {
		own := *u
		own.Host = name
		if u.Port() != "" {
			own.Host += ":" + u.Port()
		}
		c.OwnURLs = append(c.OwnURLs, own.String())
	}
	if c.MaxURLLength > link.MaxTargetBytes {
		return c, fmt.Errorf("KURZ_MAX_URL_LENGTH must be at most %d (the longest target the edge serves), not %d", link.MaxTargetBytes, c.MaxURLLength)
	}
	if c.MaxURLLength <= 0 || c.MaxBodyBytes <= 0 || c.FlushInterval <= 0 || c.PGTimeout <= 0 || c.RedisTimeout <= 0 {
		return c, fmt.Errorf("limits, timeouts and intervals must be positive")
	}
	return c, nil
}

// defaultListenAddr is loopback, and clear of Traefik's API port (8080, 8081 in make run-ha).
const defaultListenAddr = "127.0.0.1:8088"

// exampleCodeSecret is the placeholder of .env.example: refused, or every code would be predictable.
const exampleCodeSecret = "change-me-to-a-long-random-string"

// checkCodeSecret wants at least 32 random bytes, written as hex or base64.
func checkCodeSecret(secret string) error {
	const how = "KURZ_CODE_SECRET must be at least 32 random bytes written as hex or base64 (make one with: openssl rand -hex 32); changing it later changes the codes of new links"
	if secret == "" {
		return fmt.Errorf("KURZ_CODE_SECRET is required: %s", how)
	}
	if secret == exampleCodeSecret {
		return fmt.Errorf("KURZ_CODE_SECRET is the example's placeholder, which would make every code predictable: %s", how)
	}
	raw, err := hex.DecodeString(secret)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if err == nil {
			break
		}
		raw, err = enc.DecodeString(secret)
	}
	if err != nil {
		return fmt.Errorf("KURZ_CODE_SECRET is neither hex nor base64: %s", how)
	}
	if len(raw) < 32 {
		return fmt.Errorf("KURZ_CODE_SECRET holds %d bytes: %s", len(raw), how)
	}
	distinct := map[byte]bool{}
	for _, b := range raw {
		distinct[b] = true
	}
	if len(distinct) < 12 { // 32 random bytes have about 30 distinct values
		return fmt.Errorf("KURZ_CODE_SECRET does not look random (%d distinct byte values): %s", len(distinct), how)
	}
	return nil
}

// envReader reads settings from the environment, with their defaults from
// settings, and keeps the first malformed one as its error.
type envReader struct {
	getenv func(string) string
	err    error
}

// raw is the value of key, or its default.
func (e *envReader) raw(key string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return settingDefault(key)
}

func (e *envReader) str(key string) string { return e.raw(key) }

// list reads a comma-separated list, blanks dropped.
func (e *envReader) list(key string) []string {
	var out []string
	for _, v := range strings.Split(e.raw(key), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// bool accepts true, false, 1 and 0 only: anything else is a mistake to report, not a false.
func (e *envReader) bool(key string) bool {
	switch v := e.raw(key); v {
	case "true", "1":
		return true
	case "false", "0":
		return false
	default:
		e.fail(fmt.Errorf("%s must be true, false, 1 or 0, not %q", key, v))
		return false
	}
}

func (e *envReader) int(key string) int {
	v := e.raw(key)
	n, err := strconv.Atoi(v)
	if err != nil {
		e.fail(fmt.Errorf("%s must be an integer, not %q", key, v))
	}
	return n
}

func (e *envReader) duration(key string) time.Duration {
	v := e.raw(key)
	d, err := time.ParseDuration(v)
	if err != nil {
		e.fail(fmt.Errorf("%s must be a duration such as 500ms or 2s, not %q", key, v))
	}
	return d
}

func (e *envReader) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}
