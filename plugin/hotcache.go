package plugin

import "sync"

// entry is a cached target and the hits it served since the last sweep.
type entry struct {
	location []string // the Location header value, shared by every hit
	expires  int64    // sweep tick after which the entry is dropped
	hits     int64
}

// hotCache is a bounded in-process map of code → target, which also counts
// the hits of everything the edge serves. Lookups never read the clock: the
// edge's loop calls sweep every tick, which expires entries after ttlTicks.
type hotCache struct {
	mu       sync.Mutex
	entries  map[string]*entry
	pending  map[string]int64 // hits of codes not (or no longer) cached
	size     int
	ttlTicks int64
	tick     int64
}

func newHotCache(size int, ttlTicks int64) *hotCache {
	return &hotCache{entries: make(map[string]*entry, size), pending: map[string]int64{}, size: size, ttlTicks: ttlTicks}
}

// evictOneLocked makes room: of a few entries taken at random (map order),
// the one with the fewest hits since the last sweep goes, its hits to pending.
// Popular codes thus stay, as with LFU, at the cost of four steps.
func (h *hotCache) evictOneLocked() {
	victim, fewest, seen := "", int64(-1), 0
	for c, e := range h.entries {
		if fewest < 0 || e.hits < fewest {
			victim, fewest = c, e.hits
		}
		seen++
		if seen == 4 || fewest == 0 {
			break
		}
	}
	if fewest > 0 {
		h.pending[victim] += fewest
	}
	delete(h.entries, victim)
}

// sweep advances the clock one tick, drops expired entries and moves every
// hit counted so far into hits.
func (h *hotCache) sweep(hits map[string]int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tick++
	for code, e := range h.entries {
		if e.hits > 0 {
			hits[code] += e.hits
			e.hits = 0
		}
		if e.expires <= h.tick {
			delete(h.entries, code)
		}
	}
	for code, n := range h.pending {
		hits[code] += n
	}
	if len(h.pending) > 0 {
		h.pending = map[string]int64{}
	}
}

// drop removes code, keeping its hits.
func (h *hotCache) drop(code string) {
	h.mu.Lock()
	if e := h.entries[code]; e != nil {
		if e.hits > 0 {
			h.pending[code] += e.hits
		}
		delete(h.entries, code)
	}
	h.mu.Unlock()
}

// clear removes every entry, keeping the hits.
func (h *hotCache) clear() {
	h.mu.Lock()
	for code, e := range h.entries {
		if e.hits > 0 {
			h.pending[code] += e.hits
		}
	}
	h.entries = make(map[string]*entry, h.size)
	h.mu.Unlock()
}

func (h *hotCache) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}
