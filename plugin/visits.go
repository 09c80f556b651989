package plugin

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kurzlink/kurz/link"
)

// Visit analytics at the edge: the hot path keeps a pointer to each GET
// redirect's request (no parsing, no copy); the loop packs them with the time
// a flush interval later and pushes them in batches to the visits stream
// (link.AddVisitsScript), where backends parse them. Under Yaegi every call
// and every composite literal costs: the hot path appends a pointer only.

// maxBufferedVisits bounds the visits waiting for Redis; more are dropped and counted.
const maxBufferedVisits = 100000

// addVisitLocked records a GET redirect; h.mu is held.
// Kurz.ServeHTTP has an inlined copy of it: keep the two alike.
func (h *hotCache) addVisitLocked(req *http.Request) {
	if len(h.visits) < maxBufferedVisits {
		h.visits = append(h.visits, req)
	} else {
		h.droppedVisits++
	}
}

// addVisit is addVisitLocked for a redirect served from Redis.
func (h *hotCache) addVisit(req *http.Request) {
	h.mu.Lock()
	h.addVisitLocked(req)
	h.mu.Unlock()
}

// takeVisits returns the recorded visits and how many were dropped since the last take.
func (h *hotCache) takeVisits() ([]*http.Request, int64) {
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
	write  *push // made when the batch is sealed
}

// maxVisitBatchesPerPush bounds the batches one round trip sends.
const maxVisitBatchesPerPush = 16

// collectVisits packs the hot cache's visits into batches of link.MaxVisitsPerPush.
func (e *edge) collectVisits() {
	refs, dropped := e.hot.takeVisits()
	if len(refs) == 0 && dropped == 0 {
		return
	}
	now := time.Now()
	at := strconv.FormatInt(now.Unix(), 10)
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
			b = &visitBatch{id: e.batchPrefix + "-v" + strconv.FormatInt(e.batches, 10)}
			e.visitBatches = append(e.visitBatches, b)
			e.filling = b
		}
		// An inlined copy of link.ClientAddr, and link.AppendVisit in few
		// compiled calls: under Yaegi each interpreted call allocates a frame.
		h := r.Header
		ua, ref, addr := "", "", r.RemoteAddr
		if v := h["User-Agent"]; len(v) > 0 {
			ua = v[0]
		}
		if v := h["Referer"]; len(v) > 0 {
			ref = v[0]
		}
		if xff := h["X-Forwarded-For"]; len(xff) > 0 {
			addr = xff[len(xff)-1]
			if i := strings.LastIndexByte(addr, ','); i >= 0 {
				addr = addr[i+1:]
			}
			addr = strings.TrimSpace(addr)
		} else if host, _, err := net.SplitHostPort(addr); err == nil {
			addr = host
		}
		line := strings.Join([]string{r.URL.Path[1:], at, addr, ref, ua}, "\t")
		if len(ua) > link.MaxUserAgentBytes || len(ref) > link.MaxReferrerBytes || len(addr) > link.MaxAddrBytes ||
			strings.Count(line, "\t") != 4 || strings.ContainsAny(line, "\r\n") {
			// Values to cut or with tabs or line breaks: link.AppendVisit mends them.
			b.packed = link.AppendVisit(b.packed, link.Visit{Code: r.URL.Path[1:], At: now, Addr: addr, Referrer: ref, UserAgent: ua})
		} else {
			b.packed = append(b.packed, line...)
			b.packed = append(b.packed, '\n')
		}
		b.n++
		e.queuedVisits++
	}
}

// flushVisits pushes the queued batches, oldest first, a round trip of
// maxVisitBatchesPerPush at a time. A batch stays queued until enough
// replicas have it; one the master applied holds back none after it.
func (e *edge) flushVisits() {
	for {
		e.mu.Lock()
		if len(e.visitBatches) == 0 {
			e.mu.Unlock()
			return
		}
		e.filling = nil // sealed: a retry sends it as it is
		batches := append([]*visitBatch(nil), e.visitBatches...)
		pushes := make([]*push, len(batches))
		for i, b := range batches {
			if b.write == nil {
				b.write = &push{cmd: []string{"EVAL", link.AddVisitsScript, "3",
					link.VisitsKey, link.VisitsPushedKey, link.VisitsDroppedKey,
					strconv.FormatInt(link.HitsPushedTTL.Milliseconds(), 10), b.id, strconv.Itoa(link.VisitsStreamCap),
					strconv.Itoa(b.n), string(b.packed)}}
			}
			pushes[i] = b.write
		}
		e.mu.Unlock()
		done, replies, err := e.writer.pushAll(pushes, maxVisitBatchesPerPush)
		sent := false
		e.mu.Lock()
		for i, b := range batches {
			if replies != nil && replies[i] != nil {
				sent = true
				if replies[i].err == nil && replies[i].n == 0 { // only the first push of a batch hears 0; a resend hears -1
					e.stats.fullStreamVisits += int64(b.n)
				}
			}
			if done != nil && done[i] {
				e.forgetVisitBatchLocked(b)
			}
		}
		if err != nil {
			e.stats.flushErrors++
		}
		e.mu.Unlock()
		if err != nil && (err != errNotReplicated || !sent) {
			return
		}
	}
}

// forgetVisitBatchLocked drops b from the queue: enough replicas have it.
func (e *edge) forgetVisitBatchLocked(b *visitBatch) {
	for i, q := range e.visitBatches {
		if q == b {
			copy(e.visitBatches[i:], e.visitBatches[i+1:])
			e.visitBatches[len(e.visitBatches)-1] = nil
			e.visitBatches = e.visitBatches[:len(e.visitBatches)-1]
			e.queuedVisits -= b.n
			return
		}
	}
}
