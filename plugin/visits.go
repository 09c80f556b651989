package plugin

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kurzlink/kurz/link"
)

// Visit analytics at the edge: the hot path keeps a reference to each GET
// redirect's request headers and address (no parsing, no copy); the loop
// packs them with the time a flush interval later and pushes them in batches
// to the visits stream (link.AddVisitsScript), where backends parse them.

// visitRef is a visit as the hot path records it.
type visitRef struct {
	code   string
	header http.Header
	addr   string
}

// maxBufferedVisits bounds the visits waiting for Redis; more are dropped and counted.
const maxBufferedVisits = 100000

// addVisitLocked records a GET redirect of code; h.mu is held.
// Kurz.ServeHTTP has an inlined copy of it: keep the two alike.
func (h *hotCache) addVisitLocked(code string, req *http.Request) {
	if len(h.visits) < maxBufferedVisits {
		h.visits = append(h.visits, visitRef{code: code, header: req.Header, addr: req.RemoteAddr})
	} else {
		h.droppedVisits++
	}
}

// addVisit is addVisitLocked for a redirect served from Redis.
func (h *hotCache) addVisit(code string, req *http.Request) {
	h.mu.Lock()
	h.addVisitLocked(code, req)
	h.mu.Unlock()
}

// takeVisits returns the recorded visits and how many were dropped since the last take.
func (h *hotCache) takeVisits() ([]visitRef, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	// One assignment a statement: Yaegi panics on a multi-field one with nil.
	v := h.visits
	dropped := h.droppedVisits
	h.visits = nil
	h.droppedVisits = 0
	return v, dropped
}

// visitBatch is a push of packed visits; its id makes a retry add nothing.
type visitBatch struct {
	id     string
	n      int
	packed []byte
}

// collectVisits packs the hot cache's visits into batches of link.MaxVisitsPerPush.
func (e *edge) collectVisits() {
	refs, dropped := e.hot.takeVisits()
	if len(refs) == 0 && dropped == 0 {
		return
	}
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.droppedVisits += dropped
	for _, r := range refs {
		if e.queuedVisits >= maxBufferedVisits {
			e.stats.droppedVisits++
			continue
		}
		b := e.filling
		if b == nil || b.n == link.MaxVisitsPerPush {
			e.batches++
			b = &visitBatch{id: processID + "-v" + strconv.FormatInt(e.batches, 10)}
			e.visitBatches = append(e.visitBatches, b)
			e.filling = b
		}
		b.packed = link.AppendVisit(b.packed, link.Visit{
			Code: r.code, At: now, Addr: clientAddr(r),
			Referrer: first(r.header["Referer"]), UserAgent: first(r.header["User-Agent"]),
		})
		b.n++
		e.queuedVisits++
	}
}

// flushVisits pushes the queued batches, oldest first, until one fails.
func (e *edge) flushVisits() {
	for {
		e.mu.Lock()
		if len(e.visitBatches) == 0 {
			e.mu.Unlock()
			return
		}
		b := e.visitBatches[0]
		if b == e.filling {
			e.filling = nil // sealed: a retry sends it as it is
		}
		e.mu.Unlock()
		calls, err := e.redis.doAll([][]string{{"EVAL", link.AddVisitsScript, "3",
			link.VisitsKey, link.VisitsPushedKeyPrefix + b.id, link.VisitsDroppedKey,
			strconv.FormatInt(link.HitsPushedTTL.Milliseconds(), 10), strconv.Itoa(link.VisitsStreamCap),
			strconv.Itoa(b.n), string(b.packed)}})
		if err == nil && calls[0].err != nil {
			err = calls[0].err
		}
		e.mu.Lock()
		if err != nil {
			e.stats.flushErrors++
			e.mu.Unlock()
			return
		}
		e.visitBatches = e.visitBatches[1:]
		e.queuedVisits -= b.n
		if calls[0].n == 0 {
			e.stats.fullStreamVisits += int64(b.n)
		}
		e.mu.Unlock()
	}
}

// clientAddr is the visitor's address: the last X-Forwarded-For entry, which
// Traefik keeps only from trusted proxies (forwardedHeaders), else the peer's.
// The backend reads it alike (backend/http clientAddr).
func clientAddr(r visitRef) string {
	if xff := r.header["X-Forwarded-For"]; len(xff) > 0 {
		last := xff[len(xff)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		return strings.TrimSpace(last)
	}
	return hostOf(r.addr)
}

// hostOf is the IP address of a RemoteAddr ("ip:port" or "[ip]:port").
func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i > 0 && strings.IndexByte(addr[i:], ']') < 0 {
		addr = addr[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
}

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}
