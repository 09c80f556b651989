package backend

import (
	"net/netip"
	"net/url"
	"strings"
	"sync"

	"github.com/mssola/useragent"
	"github.com/x-way/crawlerdetect"

	"github.com/kurzlink/kurz/link"
)

// Classification is what a visit is counted as.
type Classification struct {
	Bot                 bool
	Browser, OS, Device string
	Referrer, Country   string
}

// GeoIP finds the ISO country code of an address ("" if unknown).
type GeoIP interface {
	Country(addr netip.Addr) string
}

// Classifier turns raw visits into their dimensions, remembering the
// parse of recent user agents (few distinct ones make most traffic).
type Classifier struct {
	Geo          GeoIP // nil: every country is "unknown"
	FullReferrer bool  // keep the referrer's URL, not only its host

	agents    memo[agent]
	referrers memo[string]
	countries memo[string]
}

type agent struct {
	bot                 bool
	browser, os, device string
}

// maxRemembered bounds each cache of the classifier (agents, referrers, addresses).
const maxRemembered = 50000

// Classify returns the dimensions of v.
func (c *Classifier) Classify(v link.Visit) Classification {
	a := c.agents.get(v.UserAgent, parseAgent)
	return Classification{Bot: a.bot, Browser: a.browser, OS: a.os, Device: a.device,
		Referrer: c.referrers.get(v.Referrer, c.referrer),
		Country:  c.countries.get(v.Addr, c.country)}
}

func (c *Classifier) country(addr string) string {
	if c.Geo != nil {
		if ip, err := netip.ParseAddr(addr); err == nil {
			if cc := c.Geo.Country(ip.Unmap()); cc != "" {
				return cc
			}
		}
	}
	return "unknown"
}

// memo remembers f's results for at most maxRemembered keys, then starts over.
type memo[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

func (m *memo[V]) get(key string, f func(string) V) V {
	m.mu.Lock()
	v, ok := m.m[key]
	m.mu.Unlock()
	if ok {
		return v
	}
	v = f(key)
	m.mu.Lock()
	if m.m == nil || len(m.m) >= maxRemembered {
		m.m = map[string]V{}
	}
	m.m[key] = v
	m.mu.Unlock()
	return v
}

// parseAgent flags crawlers and link-preview fetchers with crawlerdetect's
// maintained list (and an empty user agent: no browser sends none), and
// names browser, system and device with useragent.
func parseAgent(s string) agent {
	ua := useragent.New(s)
	browser, _ := ua.Browser()
	a := agent{browser: orUnknown(browser), os: osName(ua.OSInfo().Name)}
	switch {
	case strings.TrimSpace(s) == "" || ua.Bot() || crawlerdetect.IsCrawler(s):
		a.bot, a.device = true, "bot"
		if strings.ContainsAny(a.browser, ":/") || a.browser == "unknown" { // a bot's name, not a URL
			a.browser = "unknown"
			if name := strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == ' ' || r == ';' }); len(name) > 0 {
				a.browser = name[0]
			}
		}
	case strings.Contains(s, "iPad") || strings.Contains(s, "Tablet") || (strings.Contains(s, "Android") && !strings.Contains(s, "Mobile")):
		a.device = "tablet"
		if strings.Contains(s, "iPad") {
			a.os = "iPadOS"
		}
	case ua.Mobile():
		a.device = "mobile"
	default:
		a.device = "desktop"
	}
	return a
}

// osNames are the systems' names as people know them, for the parser's
// older ones; migration 013 folds roll-ups made with those to these.
var osNames = map[string]string{"iPhone OS": "iOS", "Mac OS X": "macOS", "CrOS": "ChromeOS", "Chrome OS": "ChromeOS"}

func osName(s string) string {
	s = orUnknown(s)
	if name, ok := osNames[s]; ok {
		return name
	}
	return s
}

func orUnknown(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return "unknown"
	}
	return s
}

// referrer is the referrer's host (or URL, with FullReferrer), "direct" without one.
func (c *Classifier) referrer(ref string) string {
	if ref == "" {
		return "direct"
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return "unknown"
	}
	if c.FullReferrer {
		u.User, u.Fragment = nil, ""
		return u.String()
	}
	return strings.ToLower(u.Hostname())
}
