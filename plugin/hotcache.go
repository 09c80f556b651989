package plugin

import (
	"sync"
	"time"
)

// entry is a cached target and the hits it served since the last flush.
type entry struct {
	location []string // the Location header value, shared by every hit
	expires int64 // unix nanoseconds
	hits    int64
}

// hotCache is a bounded in-process map of code → target. Lookups never read
// the clock: a sweeper removes expired entries every ttl/4, so an entry lives
// between ttl and 1.25×ttl.
type hotCache struct {
	mu      sync.Mutex
	entries map[string]*entry
	size    int
	ttl     time.Duration
}

func newHotCache(size int, ttl time.Duration) *hotCache {
	return &hotCache{entries: make(map[string]*entry, size), size: size, ttl: ttl}
}

// hit returns the Location header value of code and counts the hit.
func (h *hotCache) hit(code string) ([]string, bool) {
	h.mu.Lock()
	e := h.entries[code]
	if e == nil {
		h.mu.Unlock()
		return nil, false
	}
	e.hits++
	h.mu.Unlock()
	return e.location, true
}

// put caches target; when full, one arbitrary entry makes room and its
// hits are returned so that they are not lost.
func (h *hotCache) put(code, target string) (evictedCode string, evictedHits int64) {
	if h.size <= 0 {
		return "", 0
	}
	expires := time.Now().Add(h.ttl).UnixNano()
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.entries[code]; e != nil {
		e.location = []string{target}
		e.expires = expires
		return "", 0
	}
	if len(h.entries) >= h.size {
		for c, e := range h.entries {
			evictedCode = c
			evictedHits = e.hits
			delete(h.entries, c)
			break
		}
	}
	h.entries[code] = &entry{location: []string{target}, expires: expires}
	return evictedCode, evictedHits
}

// sweep drops expired entries and moves every entry's hits into hits.
func (h *hotCache) sweep(now time.Time, hits map[string]int64) {
	n := now.UnixNano()
	h.mu.Lock()
	defer h.mu.Unlock()
	for code, e := range h.entries {
		if e.hits > 0 {
			hits[code] += e.hits
			e.hits = 0
		}
		if e.expires <= n {
			delete(h.entries, code)
		}
	}
}

func (h *hotCache) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}
