package plugin

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"os/signal"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/kurzlink/kurz/link"
)

const (
	// maxPendingCodes bounds the hits kept while Redis is down; beyond it they are dropped and logged.
	maxPendingCodes = 100000
	// drainTick is how often a draining edge flushes until the process ends.
	drainTick = 20 * time.Millisecond
)

// edge is the state shared by every middleware instance with the same settings:
// Traefik calls New on each configuration reload and never closes the old
// instance, so connections, caches and goroutines live here, created once.
type edge struct {
	redis       *redisClient
	writer      *redisClient // pushes, on a connection of their own: WAIT blocks it
	hot         *hotCache
	space       *codeSpace // nil without a code secret
	countHits   bool
	flushEvery  time.Duration
	expireEvery time.Duration

	mu      sync.Mutex
	pending map[string]int64 // hits waiting for Redis
	unacked []*hitBatch      // made, not yet on enough replicas, oldest first: sent again as they are
	batches int64            // batch ids handed out
	stats   edgeStats

	visitBatches []*visitBatch // packed visits waiting for Redis, oldest first
	filling      *visitBatch   // the last of visitBatches while it takes more
	queuedVisits int           // in visitBatches

	instance string // names this edge's statistics in Redis
	// batchPrefix starts the ids of its batches: unique to this edge, as
	// one process holds an edge per configuration (reloads make new ones).
	batchPrefix string
}

// hitBatch is a flush of hits; its id makes a retry add nothing.
type hitBatch struct {
	id     string
	codes  []string
	counts []int64
	write  *push
}

// maxUnackedBatches bounds the batches of hits kept until enough replicas
// have them; beyond it new hits wait in pending.
const maxUnackedBatches = 64

// edgeStats count what the edge did, for its published statistics, tests
// and logs; hits are counted in the hot cache and added here by collect.
type edgeStats struct {
	badValues, flushes, flushErrors, droppedHits, replacedFields int64
	droppedVisits, fullStreamVisits                              int64 // not buffered; refused by a full stream
	subscriptions                                                int64 // invalidation subscriptions made, the first included
	hotAnswers, redisAnswers                                     int64 // redirects, as collected from the hot cache
	passedMiss, passedError, passedDraining, notFound, retries   int64
}

var (
	registryMu sync.Mutex
	edges      = map[string]*edge{}
	clients    = map[string]*redisClient{}
	logger     = log.New(os.Stderr, "kurz plugin: ", log.LstdFlags)
	// processID names this process in batch ids and statistics.
	processID = newProcessID()
)

func newProcessID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return hex.EncodeToString(b)
}

// sharedEdge returns the edge for these settings, creating it (and its background loops) once.
func sharedEdge(o redisOptions, size int, ttl time.Duration, hot, countHits, analytics bool, flushEvery time.Duration, codec *link.Codec) *edge {
	clientKey := o.key()
	fingerprint := ""
	if codec != nil {
		fingerprint = codec.Fingerprint()
	}
	edgeKey := fmt.Sprintf("%s|%d|%s|%v|%v|%v|%s|%s", clientKey, size, ttl, hot, countHits, analytics, flushEvery, fingerprint)
	registryMu.Lock()
	defer registryMu.Unlock()
	if e := edges[edgeKey]; e != nil {
		return e
	}
	c := clients[clientKey]
	if c == nil {
		c = newRedisClient(o)
		c.follower = newRedisClient(o)
		clients[clientKey] = c
		if len(o.sentinels) > 0 {
			go c.watchSentinels()
		}
	}
	if !hot {
		size = 0
	}
	// Entries live between ttl and 1.25 × ttl: expire runs every ttl/4.
	expireEvery := ttl / 4
	if expireEvery < 10*time.Millisecond {
		expireEvery = 10 * time.Millisecond
	}
	ttlTicks := int64((ttl + expireEvery - 1) / expireEvery)
	e := &edge{redis: c, writer: c.follower, hot: newHotCache(size, ttlTicks), countHits: countHits,
		flushEvery: flushEvery, expireEvery: expireEvery, pending: map[string]int64{},
		instance: instanceName(len(edges) + 1), batchPrefix: processID + "-" + strconv.Itoa(len(edges)+1)}
	e.hot.visitsOn = analytics
	if codec != nil {
		e.space = newCodeSpace(codec)
	}
	edges[edgeKey] = e
	go c.connect() // now rather than on the first request
	go e.loop()
	go e.drainOnSignal()
	if hot || codec != nil {
		go e.subscribe()
	}
	if codec != nil {
		go e.watchCodeSpace()
	}
	return e
}

// getCodePrefix starts GET code:{code} (every code has link.CodeLength
// bytes): a lookup appends the code and CRLF. The reader refuses a value
// longer than link.MaxTargetBytes from its length alone.
var getCodePrefix = "*2\r\n$3\r\nGET\r\n$" + strconv.Itoa(len(link.CodeKeyPrefix)+link.CodeLength) + "\r\n" + link.CodeKeyPrefix

// lookup asks Redis for code and returns the Location value to send, nil on
// a miss, an error or an unsafe value. A connection the server closed is
// dialled again and asked once more. Its steps are inlined copies (marked)
// rather than calls: under Yaegi an interpreted call costs about 2 µs and
// dozens of allocations. A reply that never comes is failed by the pipe's
// read deadline, or else by the loop's watchdog.
func (e *edge) lookup(code string) []string {
	h := e.hot
	h.mu.Lock() // an inlined copy of hotCache.generation
	gen, draining := h.gen, h.closed
	h.mu.Unlock()
	if draining { // the backends answer, and count, from now on
		e.count(&e.stats.passedDraining)
		return nil
	}
	c := e.redis
	c.mu.Lock() // an inlined copy of redisClient.pipe's fast path
	p := c.p
	c.mu.Unlock()
	if p == nil {
		var err error
		if p, err = c.pipe(); err != nil {
			e.count(&e.stats.passedError)
			return nil
		}
	}
	cl := &call{done: make(chan struct{})}
	p.mu.Lock() // an inlined copy of pipe.send
	if p.dead {
		p.mu.Unlock()
		return e.lookupAgain(code, gen)
	}
	p.wbuf = append(p.wbuf, getCodePrefix...)
	p.wbuf = append(p.wbuf, code...)
	p.wbuf = append(p.wbuf, '\r', '\n')
	p.queued = append(p.queued, cl)
	if p.writing || p.inflight != nil {
		p.mu.Unlock()
	} else {
		p.flushLocked()
	}
	<-cl.done
	if cl.err != nil {
		if _, isReply := cl.err.(*replyError); isReply || isTimeout(cl.err) {
			e.count(&e.stats.passedError)
			return nil
		}
		if cl.err == errTooLong {
			return e.located(code, cl.val, gen) // counted and logged there
		}
		return e.lookupAgain(code, gen) // a connection the server closed
	}
	// An inlined copy of located: keep the two alike.
	if cl.isNil || cl.val == "" || !link.IsSafeTarget(cl.val) {
		return e.located(code, cl.val, gen) // a miss, or a bad value to count and log
	}
	location := []string{cl.val}
	h.mu.Lock() // an inlined copy of hotCache.put
	h.redisAnswers++
	if h.size <= 0 || h.closed || gen != h.gen {
		h.pending[code]++
	} else if en := h.entries[code]; en != nil {
		en.location = location
		en.expires = h.tick + h.ttlTicks
		en.hits++
	} else {
		if len(h.entries) >= h.size {
			h.evictOneLocked()
		}
		en = &entry{code: code, location: location, expires: h.tick + h.ttlTicks, hits: 1}
		h.entries[code] = en
		h.list = append(h.list, en)
	}
	h.mu.Unlock()
	return location
}

// lookupKey is lookup for a key of another domain (link.Key), whose length
// varies: the command is built, not appended to a fixed prefix, and it is
// not inlined (the default domain's codes take lookup).
func (e *edge) lookupKey(key string) []string {
	h := e.hot
	h.mu.Lock() // an inlined copy of hotCache.generation
	gen, draining := h.gen, h.closed
	h.mu.Unlock()
	if draining {
		e.count(&e.stats.passedDraining)
		return nil
	}
	cmd := appendCommand(nil, "GET", link.CodeKey(key))
	for attempt := 0; attempt < 2; attempt++ { // once more after a connection the server closed
		p, err := e.redis.pipe()
		if err != nil {
			break
		}
		cl := newCall()
		p.send(cl, cmd)
		<-cl.done
		if cl.err == nil || cl.err == errTooLong {
			return e.located(key, cl.val, gen)
		}
		if _, isReply := cl.err.(*replyError); isReply || isTimeout(cl.err) {
			break
		}
	}
	e.count(&e.stats.passedError)
	return nil
}

// lookupAgain asks once more on a fresh connection, after the server closed the last one.
func (e *edge) lookupAgain(code string, gen int64) []string {
	p, err := e.redis.pipe()
	if err != nil {
		e.count(&e.stats.passedError)
		return nil
	}
	cl := newCall()
	cmd := append(append(append([]byte(nil), getCodePrefix...), code...), '\r', '\n')
	p.send(cl, cmd)
	<-cl.done
	if cl.err != nil && cl.err != errTooLong {
		e.count(&e.stats.passedError)
		return nil
	}
	return e.located(code, cl.val, gen)
}

// located checks a value read from Redis and caches it: the Location to
// send, or nil. A link that forwards query strings keeps its value's
// prefix (link.ForwardQueryPrefix), for serveLookup to add the visitor's
// query, and is not cached: checking for it on every hot hit cost the
// interpreter 10 allocations and 0.8 µs (BenchmarkInterpreted/HotHit).
// edge.lookup has an inlined copy of it for other links: keep the two alike.
func (e *edge) located(code, value string, gen int64) []string {
	if value == "" { // a missing key (or an empty value)
		e.count(&e.stats.passedMiss)
		return nil
	}
	if target, _ := link.ParseCachedTarget(value); !link.IsSafeTarget(target) {
		e.mu.Lock()
		e.stats.badValues++
		e.mu.Unlock()
		logger.Printf("refusing unsafe value of %s (%.60q, %d bytes): passing to the backend", link.CodeKey(code), value, len(value))
		return nil
	}
	location := []string{value}
	if value[0] == '+' { // link.ForwardQueryPrefix
		e.hot.countUncached(code)
		return location
	}
	e.hot.put(code, location, gen)
	return location
}

// loop takes the hot cache's hits and flushes them every flushEvery, and
// expires entries every expireEvery, until the process ends.
func (e *edge) loop() {
	lastExpire, lastPublish := time.Now(), time.Now()
	for {
		time.Sleep(e.flushEvery)
		now := time.Now()
		if now.Sub(lastExpire) >= e.expireEvery {
			lastExpire = now
			e.hot.expire()
		}
		e.redis.watchdog()
		e.collect()
		e.flush()
		e.collectVisits()
		e.flushVisits()
		e.writer.watchReplicas()
		if now.Sub(lastPublish) >= link.EdgeStatsEvery {
			lastPublish = now
			e.publishStats(now)
		}
	}
}

// count adds one to a counter of e.stats: for the paths that pass a request on.
// Kurz.serveMiss has an inlined copy of it: keep the two alike.
func (e *edge) count(n *int64) {
	e.mu.Lock()
	*n++
	e.mu.Unlock()
}

// collect moves the hot cache's hits into pending.
func (e *edge) collect() {
	hits := map[string]int64{}
	fromRedis := e.hot.takeHits(hits)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.redisAnswers += fromRedis
	e.stats.hotAnswers += sum(hits) - fromRedis
	if !e.countHits || len(hits) == 0 {
		return
	}
	if len(e.pending)+len(hits) > maxPendingCodes {
		e.stats.droppedHits += sum(hits)
		logger.Printf("dropping %d hits: redis unavailable and %d codes pending", sum(hits), len(e.pending))
		return
	}
	for code, n := range hits {
		e.pending[code] += n
	}
}

// flush adds the pending hits to the Redis hash the backends fold into
// Postgres, a batch at a time. A batch stays until enough replicas have it
// and is sent again with the same id, which the script adds once; one the
// master applied holds back none made after it.
func (e *edge) flush() {
	for {
		batches, fresh := e.unackedBatches()
		if len(batches) == 0 {
			return
		}
		pushes := make([]*push, len(batches))
		for i, b := range batches {
			pushes[i] = b.write
		}
		done, replies, err := e.writer.pushAll(pushes, len(pushes))
		e.mu.Lock()
		e.stats.flushes++
		for i, b := range batches {
			if replies != nil && replies[i] != nil && replies[i].err == nil && replies[i].n > 0 {
				e.stats.replacedFields += replies[i].n
				logger.Printf("replaced %d malformed fields of %s", replies[i].n, link.HitsKey)
			}
			if done != nil && done[i] {
				e.forgetBatchLocked(b)
			}
		}
		if err != nil {
			e.stats.flushErrors++
		}
		e.mu.Unlock()
		if err != nil && (err != errNotReplicated || !fresh) {
			return
		}
	}
}

// unackedBatches returns the batches not yet replicated, first making one
// more from pending if there is room; fresh tells it did.
func (e *edge) unackedBatches() (batches []*hitBatch, fresh bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.pending) > 0 && len(e.unacked) < maxUnackedBatches {
		e.batches++
		b := &hitBatch{id: e.batchPrefix + "-" + strconv.FormatInt(e.batches, 10)}
		args := []string{"EVAL", link.AddHitsScript, "2", link.HitsKey, link.HitsPushedKey,
			strconv.FormatInt(link.HitsPushedTTL.Milliseconds(), 10), b.id}
		for code, n := range e.pending {
			b.codes = append(b.codes, code)
			b.counts = append(b.counts, n)
			args = append(args, code, strconv.FormatInt(n, 10))
			delete(e.pending, code)
			if len(b.codes) == link.MaxHitsPerPush {
				break
			}
		}
		b.write = &push{cmd: args}
		e.unacked = append(e.unacked, b)
		fresh = true
	}
	return append([]*hitBatch(nil), e.unacked...), fresh
}

// forgetBatchLocked drops b from unacked: enough replicas have it.
func (e *edge) forgetBatchLocked(b *hitBatch) {
	for i, u := range e.unacked {
		if u == b {
			copy(e.unacked[i:], e.unacked[i+1:])
			e.unacked[len(e.unacked)-1] = nil
			e.unacked = e.unacked[:len(e.unacked)-1]
			return
		}
	}
}

// drainOnSignal waits for SIGTERM or SIGINT, then stops answering redirects
// (the backends count those) and flushes every hit until the process ends.
// Traefik keeps serving for its requestAcceptGraceTimeout meanwhile.
func (e *edge) drainOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, sigterm())
	<-ch
	signal.Stop(ch)
	e.drain()
}

// drain empties the hot cache for good, which stops lookups too, and
// flushes until the process ends.
func (e *edge) drain() {
	e.hot.close()
	for {
		e.collect()
		e.flush()
		e.collectVisits()
		e.flushVisits()
		time.Sleep(drainTick)
	}
}

// sigterm is syscall.SIGTERM.
func sigterm() os.Signal { return signalNumber(15) }

// signalNumber is the signal n, made through os.Interrupt's type: Traefik's
// Yaegi offers os/signal but not syscall's signals.
func signalNumber(n int64) os.Signal {
	v := reflect.New(reflect.TypeOf(os.Interrupt)).Elem()
	v.SetInt(n)
	return v.Interface().(os.Signal)
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
