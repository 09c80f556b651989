package plugin

import (
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/kurzlink/kurz/link"
)

// maxPendingCodes bounds the hits kept while Redis is down; beyond it they are dropped and logged.
const maxPendingCodes = 100000

// edge is the state shared by every middleware instance with the same settings:
// Traefik calls New on each configuration reload and never closes the old
// instance, so connections, caches and goroutines live here, created once.
type edge struct {
	redis      *redisClient
	hot        *hotCache
	countHits  bool
	tick       time.Duration
	flushEvery time.Duration

	mu      sync.Mutex
	pending map[string]int64 // hits waiting for Redis
	stats   edgeStats
}

// edgeStats count the rare events, for tests and logs; hits are not counted here.
type edgeStats struct {
	badValues, flushes, flushErrors, droppedHits int64
}

var (
	registryMu sync.Mutex
	edges      = map[string]*edge{}
	clients    = map[string]*redisClient{}
	logger     = log.New(os.Stderr, "kurz plugin: ", log.LstdFlags)
)

// sharedEdge returns the edge for these settings, creating it (and its background loop) once.
func sharedEdge(o redisOptions, size int, ttl time.Duration, hot, countHits bool, flushEvery time.Duration) *edge {
	clientKey := fmt.Sprintf("%s|%s|%s|%d|%s|%s|%s", o.addr, o.username, o.password, o.db, o.dialTimeout, o.readTimeout, o.cooldown)
	edgeKey := fmt.Sprintf("%s|%d|%s|%v|%v|%s", clientKey, size, ttl, hot, countHits, flushEvery)
	registryMu.Lock()
	defer registryMu.Unlock()
	if e := edges[edgeKey]; e != nil {
		return e
	}
	c := clients[clientKey]
	if c == nil {
		c = newRedisClient(o)
		clients[clientKey] = c
	}
	if !hot {
		size = 0
	}
	// Entries live between ttl and 1.25 × ttl: the sweep runs every ttl/4.
	tick := ttl / 4
	if tick > flushEvery {
		tick = flushEvery
	}
	if tick < 10*time.Millisecond {
		tick = 10 * time.Millisecond
	}
	ttlTicks := int64((ttl + tick - 1) / tick)
	e := &edge{redis: c, hot: newHotCache(size, ttlTicks), countHits: countHits, tick: tick, flushEvery: flushEvery, pending: map[string]int64{}}
	edges[edgeKey] = e
	go c.connect() // now rather than on the first request
	go e.loop()
	if hot {
		go e.subscribe()
	}
	return e
}

// lookup asks Redis for code and returns the Location value to send, nil on
// a miss, an error or an unsafe value. Its steps are inlined rather than
// factored into calls: under Yaegi an interpreted call costs about 2 µs.
func (e *edge) lookup(code string) []string {
	c := e.redis
	c.mu.Lock()
	p := c.p
	c.mu.Unlock()
	if p == nil {
		var err error
		if p, err = c.pipe(); err != nil {
			return nil
		}
	}
	cl := &call{done: make(chan struct{})}
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		return nil
	}
	p.wbuf = append(p.wbuf, getCodePrefix...)
	p.wbuf = append(p.wbuf, code...)
	p.wbuf = append(p.wbuf, '\r', '\n')
	p.queued = append(p.queued, cl)
	if p.writing || p.inflight != nil {
		p.mu.Unlock() // the reader writes it with the next batch
	} else {
		p.flushLocked()
	}
	<-cl.done
	if cl.err != nil || cl.isNil {
		return nil
	}
	if !link.IsSafeTarget(cl.val) {
		e.mu.Lock()
		e.stats.badValues++
		e.mu.Unlock()
		logger.Printf("refusing unsafe value of %s (%d bytes): passing to the backend", link.CodeKey(code), len(cl.val))
		return nil
	}
	location := []string{cl.val}
	h := e.hot
	h.mu.Lock()
	if h.size <= 0 {
		h.pending[code]++
	} else if en := h.entries[code]; en != nil {
		en.location = location
		en.expires = h.tick + h.ttlTicks
		en.hits++
	} else {
		if len(h.entries) >= h.size {
			h.evictOneLocked()
		}
		h.entries[code] = &entry{location: location, expires: h.tick + h.ttlTicks, hits: 1}
	}
	h.mu.Unlock()
	return location
}

// loop sweeps the hot cache every tick and flushes hits until the process ends.
func (e *edge) loop() {
	lastFlush := time.Now()
	for {
		time.Sleep(e.tick)
		swept := map[string]int64{}
		e.hot.sweep(swept)
		if e.countHits && len(swept) > 0 {
			e.mu.Lock()
			for code, n := range swept {
				e.pending[code] += n
			}
			e.mu.Unlock()
		}
		if now := time.Now(); now.Sub(lastFlush) >= e.flushEvery {
			lastFlush = now
			e.flush()
		}
	}
}

// flush adds the pending hits to the Redis hash the backend folds into Postgres.
func (e *edge) flush() {
	e.mu.Lock()
	batch := e.pending
	e.pending = map[string]int64{}
	e.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	cmds := make([][]string, 0, len(batch))
	for code, n := range batch {
		cmds = append(cmds, []string{"HINCRBY", link.HitsKey, code, fmt.Sprint(n)})
	}
	err := e.redis.doAll(cmds)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.flushes++
	if err == nil {
		return
	}
	e.stats.flushErrors++
	if len(e.pending)+len(batch) > maxPendingCodes {
		e.stats.droppedHits += sum(batch)
		logger.Printf("dropping %d hits: redis unavailable and %d codes pending", sum(batch), len(e.pending))
		return
	}
	for code, n := range batch {
		e.pending[code] += n
	}
}

func (e *edge) snapshot() edgeStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
