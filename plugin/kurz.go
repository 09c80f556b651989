// Package plugin is the kurz Traefik middleware: it answers GET/HEAD /{code}
// with a redirect from an in-process hot cache or Redis, and passes every
// other request, a miss or any Redis trouble to the next handler (the backend).
// Standard library only: Traefik runs it in the Yaegi interpreter.
package plugin

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/kurzlink/kurz/link"
)

// Config is the middleware's configuration in Traefik's dynamic
// configuration; each doc tag is its line in docs/configuration.md.
type Config struct {
	RedisAddress      string   `json:"redisAddress,omitempty" doc:"host:port of the Redis master; ignored with sentinelAddresses; refused empty or without a port"`
	SentinelAddresses []string `json:"sentinelAddresses,omitempty" doc:"host:port of each Sentinel: the master of masterName is found through them and followed across failovers; refused when an entry is not host:port"`
	MasterName        string   `json:"masterName,omitempty" doc:"the master's name the Sentinels watch; refused without sentinelAddresses, and sentinelAddresses without it"`
	SentinelUsername  string   `json:"sentinelUsername,omitempty" doc:"user for the Sentinels' ACL"`
	SentinelPassword  string   `json:"sentinelPassword,omitempty" doc:"password for the Sentinels"`
	RedisUsername     string   `json:"redisUsername,omitempty" doc:"Redis ACL user, with redisPassword"`
	RedisPassword     string   `json:"redisPassword,omitempty" doc:"Redis password"`
	RedisDB           int      `json:"redisDB,omitempty" doc:"Redis database number, the backends' REDIS_URL's; refused negative"`
	DialTimeout       string   `json:"dialTimeout,omitempty" doc:"the bound on a dial to Redis (a duration)"`
	ReadTimeout       string   `json:"readTimeout,omitempty" doc:"the bound on one Redis reply; a lookup that waits longer is passed to the backends"`
	Cooldown          string   `json:"cooldown,omitempty" doc:"how long the breaker stays open after a failed dial or a timeout: lookups pass to the backends at once meanwhile"`
	RedirectStatus    int      `json:"redirectStatus,omitempty" doc:"the redirect status, the backends' KURZ_REDIRECT_STATUS; refused unless 301, 302, 307 or 308"`
	CacheControl      string   `json:"cacheControl,omitempty" doc:"Cache-Control of a redirect, the backends' KURZ_CACHE_CONTROL"`
	HotCacheSize      int      `json:"hotCacheSize,omitempty" doc:"entries of the in-process hot cache; refused unless positive (disableHotCache turns it off)"`
	HotCacheTTL       string   `json:"hotCacheTTL,omitempty" doc:"how long a hot entry lives without an invalidation (1 to 1.25 times this): the bound on a stale answer while the invalidation subscription is down"`
	DisableHotCache   bool     `json:"disableHotCache,omitempty" doc:"true: every lookup asks Redis"`
	DisableHitCount   bool     `json:"disableHitCount,omitempty" doc:"true: the edge counts no visits (the backends then never learn of the ones it answered)"`
	DisableAnalytics  bool     `json:"disableAnalytics,omitempty" doc:"true: no visit analytics (referrers, browsers, countries) from the edge"`
	FlushInterval     string   `json:"flushInterval,omitempty" doc:"how often counted hits and visits go to Redis: a Traefik killed outright loses at most this much of them"`
	CodeSecret        string   `json:"codeSecret,omitempty" doc:"the backends' KURZ_CODE_SECRET: with it the edge answers 404 itself for codes that cannot exist; empty leaves them to the backends"`
	Domains           []string `json:"domains,omitempty" doc:"the backends' KURZ_DOMAINS, the default first: the edge serves each domain's links and answers 404 for any other host; empty: every host is the default's (one domain)"`
}

// CreateConfig returns the defaults.
func CreateConfig() *Config {
	return &Config{
		RedisAddress:   "127.0.0.1:6379",
		DialTimeout:    "200ms",
		ReadTimeout:    "100ms",
		Cooldown:       "2s",
		RedirectStatus: http.StatusMovedPermanently,
		CacheControl:   "private, max-age=90",
		HotCacheSize:   20000,
		HotCacheTTL:    "5s",
		FlushInterval:  "200ms",
	}
}

// Kurz is one instance of the middleware.
type Kurz struct {
	next         http.Handler
	name         string
	edge         *edge
	hot          *hotCache  // edge.hot, one indirection less on the hot path
	space        *codeSpace // edge.space, nil without a code secret
	status       int
	cacheControl []string
}

// hostRouter is the middleware with domains: it looks at each request's
// Host before Kurz does. A handler of its own, so that without domains the
// hot path tests nothing (a test there cost 6 allocations and 0.4 µs a hit
// under Yaegi); with them it costs one interpreted call more.
type hostRouter struct {
	k           *Kurz
	defaultHost string          // the default domain, as a Host header writes it most often
	others      map[string]bool // the other domains, lowercase
}

// New validates config and returns the middleware; shared state comes from the package registry.
func New(ctx context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	if config == nil {
		return nil, fmt.Errorf("kurz: no configuration")
	}
	if len(config.SentinelAddresses) > 0 {
		if config.MasterName == "" {
			return nil, fmt.Errorf("kurz: masterName must name the master that sentinelAddresses watch")
		}
		for _, a := range config.SentinelAddresses {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("kurz: sentinelAddresses entry %q must be host:port: %v", a, err)
			}
		}
	} else {
		if config.MasterName != "" {
			return nil, fmt.Errorf("kurz: masterName needs sentinelAddresses")
		}
		if config.RedisAddress == "" {
			return nil, fmt.Errorf("kurz: redisAddress must not be empty")
		}
		if _, _, err := net.SplitHostPort(config.RedisAddress); err != nil {
			return nil, fmt.Errorf("kurz: redisAddress %q must be host:port: %v", config.RedisAddress, err)
		}
	}
	if !link.IsRedirectStatus(config.RedirectStatus) {
		return nil, fmt.Errorf("kurz: redirectStatus must be %s, not %d", link.RedirectStatuses, config.RedirectStatus)
	}
	if config.HotCacheSize <= 0 {
		return nil, fmt.Errorf("kurz: hotCacheSize must be positive, not %d (use disableHotCache to turn it off)", config.HotCacheSize)
	}
	if config.RedisDB < 0 {
		return nil, fmt.Errorf("kurz: redisDB must not be negative")
	}
	var dial, read, cooldown, ttl, flush time.Duration
	for _, d := range []struct {
		name, value string
		out         *time.Duration
	}{
		{"dialTimeout", config.DialTimeout, &dial},
		{"readTimeout", config.ReadTimeout, &read},
		{"cooldown", config.Cooldown, &cooldown},
		{"hotCacheTTL", config.HotCacheTTL, &ttl},
		{"flushInterval", config.FlushInterval, &flush},
	} {
		v, err := time.ParseDuration(d.value)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("kurz: %s must be a positive duration such as 500ms, not %q", d.name, d.value)
		}
		*d.out = v
	}
	opts := redisOptions{addr: config.RedisAddress, username: config.RedisUsername, password: config.RedisPassword,
		db: config.RedisDB, dialTimeout: dial, readTimeout: read, cooldown: cooldown,
		sentinels: config.SentinelAddresses, masterName: config.MasterName,
		sentinelUsername: config.SentinelUsername, sentinelPassword: config.SentinelPassword}
	var codec *link.Codec
	if config.CodeSecret != "" {
		c, err := link.NewCodec(config.CodeSecret)
		if err != nil {
			return nil, fmt.Errorf("kurz: codeSecret: %v", err)
		}
		codec = c
	}
	e := sharedEdge(opts, config.HotCacheSize, ttl, !config.DisableHotCache, !config.DisableHitCount, !config.DisableAnalytics, flush, codec)
	k := &Kurz{next: next, name: name, edge: e, hot: e.hot, space: e.space, status: config.RedirectStatus}
	var router *hostRouter
	if len(config.Domains) > 0 {
		domains, err := link.ParseDomains(config.Domains)
		if err != nil {
			return nil, fmt.Errorf("kurz: domains, as the backends' KURZ_DOMAINS: %v", err)
		}
		router = &hostRouter{k: k, defaultHost: domains[0], others: map[string]bool{}}
		for _, d := range domains[1:] {
			router.others[d] = true
		}
	}
	if config.CacheControl != "" {
		k.cacheControl = []string{config.CacheControl}
	}
	if router != nil {
		return router, nil
	}
	return k, nil
}

// ServeHTTP answers a hot code from the hot cache and leaves the rest to
// serveMiss. Under Yaegi a function's cost grows with its body, so this one
// holds the hot path only.
func (k *Kurz) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	path := req.URL.Path
	if len(path) == codePathLength && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
		// An inlined copy of hotCache.get: keep the two alike. Only validated
		// codes enter the cache, so a hit needs no shape check.
		hot := k.hot
		hot.mu.Lock()
		if e := hot.entries[path[1:]]; e != nil {
			e.hits++
			if hot.visitsOn && req.Method == http.MethodGet { // an inlined copy of hotCache.addVisitLocked
				if len(hot.visits) < maxBufferedVisits {
					hot.visits = append(hot.visits, req)
				} else {
					hot.droppedVisits++
				}
			}
			hot.mu.Unlock()
			h := rw.Header()
			h["Location"] = e.location
			if k.cacheControl != nil {
				h["Cache-Control"] = k.cacheControl
			}
			rw.WriteHeader(k.status)
			return
		}
		hot.mu.Unlock()
	}
	k.serveMiss(rw, req, path)
}

// ServeHTTP passes the default domain's requests to Kurz, which reads no
// Host: as written most often without a test more, else by serveOtherHost.
func (r *hostRouter) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	if req.Host == r.defaultHost {
		r.k.ServeHTTP(rw, req)
		return
	}
	r.serveOtherHost(rw, req)
}

// serveOtherHost answers a request whose Host is not the default domain
// as written: the default's in another spelling (case, a port) by Kurz,
// another domain's codes by their keys (serveOtherDomain), any other host
// 404 without a lookup.
func (r *hostRouter) serveOtherHost(rw http.ResponseWriter, req *http.Request) {
	k := r.k
	host := link.HostDomain(req.Host)
	path := req.URL.Path
	switch {
	case host == r.defaultHost:
		k.ServeHTTP(rw, req)
	case r.others[host]:
		if len(path) == codePathLength && (req.Method == http.MethodGet || req.Method == http.MethodHead) && link.IsCode(path[1:]) &&
			r.serveOtherDomain(rw, req, host+path) {
			return
		}
		if req.Method == http.MethodGet || req.Method == http.MethodHead {
			k.serveIdempotent(rw, req)
			return
		}
		k.next.ServeHTTP(rw, req)
	default:
		k.edge.count(&k.edge.stats.notFound)
		writeNotFound(rw, req, strings.TrimPrefix(path, "/"))
	}
}

// serveOtherDomain answers a code of another domain by its key (link.Key:
// "{domain}/{code}") from the hot cache or Redis, as the default domain's
// path does its codes; false leaves it to the backends (a miss, or Redis
// trouble). Its unknown codes go to the backends too: the edge lists the
// default domain's aliases only.
func (r *hostRouter) serveOtherDomain(rw http.ResponseWriter, req *http.Request, key string) bool {
	k := r.k
	location := k.hot.get(key)
	if location == nil {
		location = k.edge.lookupKey(key)
	}
	if location == nil {
		return false
	}
	if req.Method == http.MethodGet && k.hot.visitsOn {
		k.hot.addVisit(keyedVisit(req, key))
	}
	if location[0][0] == '+' { // link.ForwardQueryPrefix: never in the hot cache (edge.located)
		location = forwardedLocation(location[0], req)
	}
	k.writeRedirect(rw, location)
	return true
}

// keyedVisit is what collectVisits reads of a visit of another domain's
// link: its path names the key, so the visit is the link's, not the default
// domain's link of the same code.
func keyedVisit(req *http.Request, key string) *http.Request {
	u := *req.URL
	u.Path = "/" + key
	return &http.Request{Method: req.Method, URL: &u, Header: req.Header, RemoteAddr: req.RemoteAddr}
}

// writeRedirect sends location with the configured status and Cache-Control.
func (k *Kurz) writeRedirect(rw http.ResponseWriter, location []string) {
	h := rw.Header()
	h["Location"] = location
	if k.cacheControl != nil {
		h["Cache-Control"] = k.cacheControl
	}
	rw.WriteHeader(k.status)
}

// codePathLength is the length of "/" and a code.
const codePathLength = 1 + link.CodeLength

// serveMiss answers a code that no link can have with a 404 (the backend's),
// and leaves everything else to serveLookup. Small: under Yaegi a call costs
// by the size of its function.
func (k *Kurz) serveMiss(rw http.ResponseWriter, req *http.Request, path string) {
	if k.space != nil && len(path) == codePathLength && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
		if absent, notFound := k.space.absent(path[1:]); absent {
			e := k.edge
			e.mu.Lock() // an inlined copy of edge.count
			e.stats.notFound++
			e.mu.Unlock()
			if notFound != nil { // the default domain's redirect of unknown codes
				h := rw.Header()
				h["Location"] = notFound
				h["Cache-Control"] = noStore
				rw.WriteHeader(http.StatusFound)
				return
			}
			writeNotFound(rw, req, path[1:])
			return
		}
	}
	k.serveLookup(rw, req, path)
}

// serveLookup answers a code from Redis, or passes the request on: GET and
// HEAD with a retry when a dying replica leaves them unanswered.
func (k *Kurz) serveLookup(rw http.ResponseWriter, req *http.Request, path string) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		k.next.ServeHTTP(rw, req)
		return
	}
	if len(path) == codePathLength && link.IsCode(path[1:]) {
		if location := k.edge.lookup(path[1:]); location != nil {
			if req.Method == http.MethodGet && k.hot.visitsOn {
				k.hot.addVisit(req)
			}
			if location[0][0] == '+' { // link.ForwardQueryPrefix: never in the hot cache (edge.located)
				location = forwardedLocation(location[0], req)
			}
			h := rw.Header()
			h["Location"] = location
			if k.cacheControl != nil {
				h["Cache-Control"] = k.cacheControl
			}
			rw.WriteHeader(k.status)
			return
		}
	}
	k.serveIdempotent(rw, req)
}

// forwardedLocation is the Location of a cached value of a link that
// forwards query strings ("+" and its target) for req.
func forwardedLocation(cached string, req *http.Request) []string {
	target, _ := link.ParseCachedTarget(cached)
	return []string{link.ForwardQuery(target, req.URL.RawQuery)}
}

// writeNotFound answers a code no link can have as the backend would: the
// page for browsers, JSON for anyone else. Headers are set as map entries and
// the body is made once: calls cost under Yaegi.
func writeNotFound(rw http.ResponseWriter, req *http.Request, code string) {
	h := rw.Header()
	if accept := req.Header["Accept"]; len(accept) > 0 && link.WantsHTML(accept[0]) {
		writeNotFoundPage(rw, req, code)
		return
	}
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = noSniff
	rw.WriteHeader(http.StatusNotFound)
	if req.Method != http.MethodHead {
		rw.Write(notFoundJSON)
	}
}

var (
	jsonContentType = []string{"application/json"}
	htmlContentType = []string{"text/html; charset=utf-8"}
	noSniff         = []string{"nosniff"}
	noStore         = []string{"no-store"}
	notFoundJSON    = []byte(link.NotFoundJSON)
)

// writeNotFoundPage is writeNotFound's answer to a browser.
func writeNotFoundPage(rw http.ResponseWriter, req *http.Request, code string) {
	h := rw.Header()
	for _, kv := range link.PageSecurityHeaders {
		h.Set(kv[0], kv[1])
	}
	h["Content-Type"] = htmlContentType
	rw.WriteHeader(http.StatusNotFound)
	if req.Method != http.MethodHead {
		rw.Write([]byte(link.NotFoundPage(code)))
	}
}
