package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kurzlink/kurz/link"
)

// setting is one environment variable the backend reads. settings is the
// one list loadConfig takes its defaults from and that kurz --help and
// docs/configuration.md are written from.
type setting struct {
	Name, Default, Meaning string
}

var settings = []setting{
	{"DATABASE_URL", "postgres://kurz:kurz@127.0.0.1:5432/kurz?sslmode=disable", "the PostgreSQL primary (a pgx connection string); migrations run on it at start, under a lock"},
	{"DATABASE_REPLICA_URL", "", "a streaming replica, asked first for redirect misses and lists (what it has not got yet is asked of the primary); empty: none"},
	{"REDIS_URL", "redis://127.0.0.1:6379/0", "the Redis master (redis:// or rediss://); with KURZ_REDIS_SENTINELS its host is ignored and the database and credentials are kept"},
	{"KURZ_REDIS_SENTINELS", "", "comma-separated host:port of the Sentinels; needs KURZ_REDIS_MASTER_NAME, refused without it or with an entry that is not host:port"},
	{"KURZ_REDIS_MASTER_NAME", "", "the master's name the Sentinels watch; refused without KURZ_REDIS_SENTINELS"},
	{"KURZ_REDIS_SENTINEL_USERNAME", "", "user for the Sentinels' own ACL, if they have one"},
	{"KURZ_REDIS_SENTINEL_PASSWORD", "", "password for the Sentinels"},
	{"KURZ_CODE_SECRET", "", "required: at least 32 random bytes as hex or base64 (openssl rand -hex 32), the same on every backend and edge; refused when missing, short, not random-looking or the example's placeholder"},
	{"KURZ_PUBLIC_URL", "http://localhost:8000", "the address short URLs are given under; an absolute http(s) URL, refused otherwise; links to it are refused as targets"},
	{"KURZ_DOMAINS", "", "comma-separated short domains served (host names, without port): the first is the default, KURZ_PUBLIC_URL's host, where every link made before domains existed is; refused otherwise; empty: that host alone. Requests for other hosts are answered 404"},
	{"KURZ_LISTEN_ADDR", defaultListenAddr, "address of the API, the web pages and the redirect fallback"},
	{"KURZ_METRICS_ADDR", "127.0.0.1:9100", "address of the Prometheus metrics (/metrics); off: none"},
	{"KURZ_REDIRECT_STATUS", "301", "the default redirect status; " + link.RedirectStatuses + ", refused otherwise (the edge's redirectStatus must match)"},
	{"KURZ_CACHE_CONTROL", "private, max-age=90", "Cache-Control of a redirect (the edge's cacheControl must match)"},
	{"KURZ_MAX_URL_LENGTH", "2048", fmt.Sprintf("the longest target accepted, in bytes; refused above %d, the longest the edge serves", link.MaxTargetBytes)},
	{"KURZ_MAX_BODY_BYTES", "8192", "the largest request body accepted, in bytes"},
	{"KURZ_REQUIRE_API_KEY", "false", "true: creating a link needs a key too (otherwise anonymous creates are allowed)"},
	{"KURZ_YOURLS_PASSWORDS", "false", "true: YOURLS's API also takes username and password (a key's name and the key itself), as old YOURLS clients send them; otherwise only signatures"},
	{"KURZ_CORS_ORIGINS", "", "comma-separated origins whose pages may call the API from a browser, such as https://app.example.com; refused with a path or another scheme"},
	{"KURZ_BLOCKLIST", "", "a file of blocked domains, one a line, read again when it changes; links to them are refused and existing ones stop redirecting"},
	{"KURZ_KEY_CACHE_TTL", "10s", "how long a checked API key is remembered: the bound on how long a revoked key still works"},
	{"KURZ_HIT_FLUSH_INTERVAL", "200ms", "how often counted redirects, and recorded visits, go to Redis and are folded into Postgres"},
	{"KURZ_POSTGRES_TIMEOUT", "3s", "the bound on one PostgreSQL query"},
	{"KURZ_REDIS_TIMEOUT", "250ms", "the bound on one Redis call"},
	{"KURZ_START_TIMEOUT", "30s", "how long start-up waits for PostgreSQL and Redis"},
	{"KURZ_SHUTDOWN_DRAIN", "0s", "after SIGTERM: answer not ready but keep serving this long, longer than the load balancer's health window, before stopping"},
	{"KURZ_ANALYTICS", "true", "record visits and fold them into hourly roll-ups (the edge's disableAnalytics is its own switch)"},
	{"KURZ_ANALYTICS_FULL_REFERRER", "false", "true: keep referrers' URLs (without user info and fragment), not only their hosts"},
	{"KURZ_ANALYTICS_RETENTION", "0s", "how long visit roll-ups are kept; 0s: until deleted; refused below 24h"},
	{"KURZ_VISIT_LOG_RETENTION", "720h", "how long each visit is also kept as a row (time, referrer, browser, system, device, country, bot; no address), dropped by day; 0s: no visit log; refused below 24h"},
	{"KURZ_VISIT_LOG_FULL_UA", "false", "true: the visit log keeps each visit's user agent too (at most 256 bytes)"},
	{"KURZ_GEOIP_DB", "", "a MaxMind-format country database (GeoLite2 or ip-location-db); empty: countries unknown; refused at start when unreadable"},
	{"KURZ_LOG_LEVEL", "info", "debug, info, warn or error (JSON logs on standard output)"},
}

// settingDefault is the default of the setting named name; a name not in
// settings is a mistake in this program, caught by the tests.
func settingDefault(name string) string {
	for _, s := range settings {
		if s.Name == name {
			return s.Default
		}
	}
	panic("kurz: no setting named " + name)
}

// writeHelp writes what kurz --help shows.
func writeHelp(w io.Writer) error {
	fmt.Fprint(w, `kurz: the kurz backend (API, web pages, redirect fallback, folding counts and visits).

Usage:
  kurz                  serve, configured by the environment below
  kurz keys ...         manage API keys (kurz keys help)
  kurz import S FILE    import another shortener's export (kurz import help)
  kurz healthcheck      ask this container's server whether it is ready
  kurz plugin-source D  write the edge plugin's source into D
  kurz --help           this text

Environment (name, default, meaning):
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range settings {
		def := s.Default
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.Name, def, s.Meaning)
	}
	return tw.Flush()
}

// writeSettingsMarkdown writes the settings as the table of docs/configuration.md.
func writeSettingsMarkdown(w io.Writer) {
	fmt.Fprintln(w, "| Setting | Default | Meaning |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, s := range settings {
		def := ""
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		fmt.Fprintf(w, "| `%s` | %s | %s |\n", s.Name, def, strings.ReplaceAll(s.Meaning, "|", `\|`))
	}
}
