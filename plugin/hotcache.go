package plugin

import (
	"net/http"
	"sync"
)

// entry is a cached target and the hits it served since hits were last taken.
type entry struct {
	code     string
	location []string // the Location header value, shared by every hit
	expires  int64    // expiry tick after which the entry is dropped
	hits     int64
	removed  bool // out of the map; leaves list at the next expire
}

// hotCache is a bounded in-process map of code → target, which also counts
// the hits of everything the edge serves. Lookups never read the clock: the
// edge's loop calls expire every tick, which drops entries after ttlTicks.
// A hit only increments its entry: takeHits walks list, a slice, which
// under Yaegi costs far less than anything more on the hot path.
type hotCache struct {
	mu       sync.Mutex
	entries  map[string]*entry
	list     []*entry         // the entries, and removed ones until the next expire
	pending  map[string]int64 // hits of codes not (or no longer) cached
	size     int              // 0: nothing is cached, hits are still counted
	ttlTicks int64
	tick     int64
	gen      int64 // advanced by every drop and clear
	closed   bool  // draining: nothing more is cached

	redisAnswers int64 // hits counted by put since the last take: answered from Redis
	evictions    int64

	visitsOn      bool            // visit analytics: GET redirects are recorded
	visits        []*http.Request // GET redirects since the edge's loop last took them
	droppedVisits int64           // not recorded: maxBufferedVisits were waiting
}

func newHotCache(size int, ttlTicks int64) *hotCache {
	return &hotCache{entries: make(map[string]*entry, size), pending: map[string]int64{}, size: size, ttlTicks: ttlTicks}
}

// get returns the target of code and counts a hit, or nil.
// Kurz.ServeHTTP has an inlined copy of it: keep the two alike.
func (h *hotCache) get(code string) []string {
	h.mu.Lock()
	e := h.entries[code]
	if e != nil {
		e.hits++
	}
	h.mu.Unlock()
	if e == nil {
		return nil
	}
	return e.location
}

// generation is read before asking Redis: put refuses a reply older than a drop.
// edge.lookup has an inlined copy of it: keep the two alike.
func (h *hotCache) generation() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen
}

// put caches code → location, read from Redis while the cache was at gen, and
// counts the hit that asked for it. An entry read before a drop or clear is
// not cached: its value may be what the invalidation removed.
// edge.lookup has an inlined copy of it: keep the two alike.
func (h *hotCache) put(code string, location []string, gen int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.redisAnswers++
	if h.size <= 0 || h.closed || gen != h.gen {
		h.pending[code]++
		return
	}
	e := h.entries[code]
	if e == nil {
		if len(h.entries) >= h.size {
			h.evictOneLocked()
		}
		e = &entry{code: code}
		h.entries[code] = e
		h.list = append(h.list, e)
	}
	e.location = location
	e.expires = h.tick + h.ttlTicks
	e.hits++
}

// countUncached counts a hit answered from Redis and not cached (a link
// that forwards query strings), as put counts one it caches.
func (h *hotCache) countUncached(code string) {
	h.mu.Lock()
	h.redisAnswers++
	h.pending[code]++
	h.mu.Unlock()
}

// removeLocked deletes code's entry, keeping its hits in pending.
func (h *hotCache) removeLocked(code string, e *entry) {
	if e.hits > 0 {
		h.pending[code] += e.hits
		e.hits = 0
	}
	e.removed = true
	delete(h.entries, code)
}

// evictOneLocked makes room: of a few entries taken at random (map order),
// the one with the fewest hits since the last take goes. Popular codes thus
// stay, as with LFU, at the cost of four steps.
func (h *hotCache) evictOneLocked() {
	var victim *entry
	seen := 0
	for _, e := range h.entries {
		if victim == nil || e.hits < victim.hits {
			victim = e
		}
		seen++
		if seen == 4 || victim.hits == 0 {
			break
		}
	}
	if victim != nil {
		h.removeLocked(victim.code, victim)
		h.evictions++
	}
}

// takeHits moves every hit counted so far into hits, and returns how many of
// them were answered from Redis (the rest from the cache itself).
func (h *hotCache) takeHits(hits map[string]int64) (fromRedis int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fromRedis = h.redisAnswers
	h.redisAnswers = 0
	for _, e := range h.list {
		if e.hits > 0 {
			hits[e.code] += e.hits
			e.hits = 0
		}
	}
	for code, n := range h.pending {
		hits[code] += n
	}
	if len(h.pending) > 0 {
		h.pending = map[string]int64{}
	}
	return fromRedis
}

// expire advances the clock one tick, drops expired entries and compacts list.
func (h *hotCache) expire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tick++
	live := h.list[:0]
	for _, e := range h.list {
		if !e.removed && e.expires <= h.tick {
			h.removeLocked(e.code, e)
		}
		if !e.removed {
			live = append(live, e)
		}
	}
	for i := len(live); i < len(h.list); i++ {
		h.list[i] = nil
	}
	h.list = live
}

// drop removes code, keeping its hits.
func (h *hotCache) drop(code string) {
	h.mu.Lock()
	h.gen++
	if e := h.entries[code]; e != nil {
		h.removeLocked(code, e)
	}
	h.mu.Unlock()
}

// clear removes every entry, keeping the hits.
func (h *hotCache) clear() {
	h.mu.Lock()
	h.clearLocked()
	h.mu.Unlock()
}

func (h *hotCache) clearLocked() {
	h.gen++
	for code, e := range h.entries {
		h.removeLocked(code, e)
	}
	h.entries = make(map[string]*entry, h.size)
	h.list = nil
}

// close empties the cache for good: a draining edge leaves redirects to the backends.
func (h *hotCache) close() {
	h.mu.Lock()
	h.closed = true
	h.clearLocked()
	h.mu.Unlock()
}

func (h *hotCache) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}

// sizeAndEvictions reports the entries cached now and the evictions so far.
func (h *hotCache) sizeAndEvictions() (int64, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return int64(len(h.entries)), h.evictions
}
