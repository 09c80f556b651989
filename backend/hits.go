package backend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/kurzlink/kurz/link"
)

// Every visit reaches Postgres exactly once, in two steps that each survive
// a retry: a HitCounter pushes the visits it counted to Redis's pending hash
// in batches that Redis adds once per batch id; a HitFolder renames that hash
// into a batch and adds it to Postgres in chunks that Postgres adds once per
// chunk id, then deletes it. Nothing is deleted before it is committed.

// HitChunkSize bounds the codes of one Postgres chunk of a folded batch.
const HitChunkSize = 5000

// HitCounter counts visits in memory and pushes them to Redis every interval.
type HitCounter struct {
	cache    LinkCache
	store    LinkStore
	logger   *slog.Logger
	interval time.Duration
	id       string // starts every batch id of this process

	mu      sync.Mutex
	pending map[string]int64
	unacked *hitBatch // pushed without an answer: pushed again as it is
	batches int64
}

type hitBatch struct {
	id   string
	hits map[string]int64
	sent bool // a push was tried: Redis may have added it
}

func NewHitCounter(cache LinkCache, store LinkStore, interval time.Duration, logger *slog.Logger) *HitCounter {
	return &HitCounter{cache: cache, store: store, interval: interval, logger: logger, id: newInstanceID(), pending: map[string]int64{}}
}

// Record counts one visit of code; it never blocks on I/O.
func (h *HitCounter) Record(code string) {
	h.mu.Lock()
	h.pending[code]++
	h.mu.Unlock()
}

// Pending is the number of counted visits not yet in Redis.
func (h *HitCounter) Pending() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := sum(h.pending)
	if h.unacked != nil {
		n += sum(h.unacked.hits)
	}
	return n
}

// Run pushes every interval until ctx ends, then pushes what is left.
func (h *HitCounter) Run(ctx context.Context) {
	failures := retryLog{logger: h.logger, what: "pushing counts to redis"}
	every(ctx, h.interval, func() {
		failures.record(h.Push(ctx), "pending", h.Pending())
	})
	h.shutdown()
}

// Push sends the pending counts to Redis, batch by batch, until none is left or one fails.
func (h *HitCounter) Push(ctx context.Context) error {
	for {
		b := h.nextBatch()
		if b == nil {
			return nil
		}
		h.mu.Lock()
		b.sent = true
		h.mu.Unlock()
		if err := h.cache.PushHits(ctx, b.id, b.hits); err != nil {
			return err
		}
		h.acknowledge(b)
	}
}

func (h *HitCounter) nextBatch() *hitBatch {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.unacked != nil {
		return h.unacked
	}
	if len(h.pending) == 0 {
		return nil
	}
	h.batches++
	b := &hitBatch{id: h.id + "-" + strconv.FormatInt(h.batches, 10), hits: map[string]int64{}}
	for code, n := range h.pending {
		b.hits[code] = n
		delete(h.pending, code)
		if len(b.hits) == link.MaxHitsPerPush {
			break
		}
	}
	h.unacked = b
	return b
}

// shutdown pushes what is left, retrying for a few seconds; if Redis stays
// away, the counts go straight to Postgres under their batch ids — except a
// batch whose push Redis may have added (its answer was lost): that one is
// parked in Postgres for a running backend to settle (HitFolder.settleParked).
func (h *HitCounter) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		if err = h.Push(ctx); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	for b := h.nextBatch(); b != nil; b = h.nextBatch() {
		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		h.mu.Lock()
		sent := b.sent
		h.mu.Unlock()
		var perr error
		if sent {
			perr = h.store.ParkHits(pctx, b.id, b.hits)
		} else {
			_, perr = h.store.AddHits(pctx, directChunk(b.id), b.hits)
		}
		cancel()
		if perr != nil {
			h.logger.Error("visits lost at shutdown: redis and postgres unavailable", "redis_err", err, "postgres_err", perr, "visits", h.Pending())
			return
		}
		h.acknowledge(b)
	}
}

// directChunk is the claim of a batch added to Postgres without Redis.
func directChunk(batchID string) string { return "direct/" + batchID }

// acknowledge forgets b once it is stored; a concurrent pusher may have moved on already.
func (h *HitCounter) acknowledge(b *hitBatch) {
	h.mu.Lock()
	if h.unacked == b {
		h.unacked = nil
	}
	h.mu.Unlock()
}

// HitFolder adds the pending hash to Postgres: one backend at a time holds
// the lease, but correctness does not rest on it, since chunks are claimed in
// Postgres. A backend killed mid-batch leaves the batch in Redis for the next.
type HitFolder struct {
	cache    LinkCache
	store    LinkStore
	logger   *slog.Logger
	interval time.Duration
	owner    string
	// Malformed, if set, is told how many malformed fields a batch had.
	Malformed func(n int)

	mu     sync.Mutex
	folded int64
}

func NewHitFolder(cache LinkCache, store LinkStore, interval time.Duration, logger *slog.Logger) *HitFolder {
	return &HitFolder{cache: cache, store: store, interval: interval, logger: logger, owner: newInstanceID()}
}

// Folded is how many visits this folder added to Postgres.
func (f *HitFolder) Folded() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.folded
}

// Run folds every interval until ctx ends.
func (f *HitFolder) Run(ctx context.Context) {
	lastPrune := time.Now()
	failures := retryLog{logger: f.logger, what: "folding counts into postgres"}
	lastSettle := time.Now()
	every(ctx, f.interval, func() {
		if err := f.Fold(ctx); ctx.Err() == nil {
			failures.record(err)
		}
		if time.Since(lastSettle) >= parkedSettleEvery {
			lastSettle = time.Now()
			f.settleParked(ctx)
		}
		if time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			if err := f.store.PruneHitChunks(ctx, time.Now().Add(-24*time.Hour)); err != nil {
				f.logger.Warn("pruning applied hit chunks failed", "err", err)
			}
		}
	})
}

// parkedSettleEvery is how often a folder looks for parked batches to settle.
const parkedSettleEvery = 500 * time.Millisecond

// settleParked decides each parked batch by asking Redis whether it added
// it: if so, Redis's fold counts it and the parked copy goes; if not, it is
// added to Postgres here, once (its direct claim), then forgotten. Redis
// remembers batch ids for link.HitsPushedTTL; a batch parked longer than
// that is added, since Redis can no longer say.
func (f *HitFolder) settleParked(ctx context.Context) {
	parked, err := f.store.ParkedHits(ctx, 100)
	if err != nil {
		f.logger.Warn("reading parked counts failed; retrying", "err", err)
		return
	}
	for _, p := range parked {
		pushed, err := f.cache.HitsBatchPushed(ctx, p.BatchID)
		if err != nil {
			return // Redis cannot say now: ask again later
		}
		if time.Since(p.ParkedAt) > link.HitsPushedTTL {
			f.logger.Warn("a parked batch outlived what Redis remembers of pushes: counting it", "batch", p.BatchID, "visits", sum(p.Hits))
			pushed = false
		}
		if !pushed {
			applied, err := f.store.AddHits(ctx, directChunk(p.BatchID), p.Hits)
			if err != nil {
				return
			}
			if applied {
				f.mu.Lock()
				f.folded += sum(p.Hits)
				f.mu.Unlock()
			}
		}
		if err := f.store.UnparkHits(ctx, p.BatchID); err != nil {
			return
		}
		f.logger.Info("settled a parked batch of counts", "batch", p.BatchID, "in_redis", pushed, "visits", sum(p.Hits))
	}
}

// retryLog logs the first failure of background work retried every
// interval, and its recovery, not every retry.
type retryLog struct {
	logger  *slog.Logger
	what    string
	failing bool
}

func (r *retryLog) record(err error, attrs ...any) {
	switch {
	case err != nil && !r.failing:
		r.failing = true
		r.logger.Warn(r.what+" failed; retrying every interval", append([]any{"err", err}, attrs...)...)
	case err == nil && r.failing:
		r.failing = false
		r.logger.Info(r.what + " works again")
	}
}

// every calls f every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			f()
		case <-ctx.Done():
			return
		}
	}
}

// Stop folds once more (so that the last replica to stop leaves Postgres up
// to date) and releases the lease for the next folder.
func (f *HitFolder) Stop(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := f.Fold(ctx); err != nil {
		f.logger.Warn("last fold failed; the counts stay in redis for the next replica", "err", err)
	}
	if err := f.cache.ReleaseFoldLease(ctx, f.owner); err != nil {
		f.logger.Warn("releasing the fold lease failed; it expires by itself", "err", err)
	}
}

// Fold adds batches to Postgres while there are any and this folder holds the lease.
func (f *HitFolder) Fold(ctx context.Context) error {
	for {
		held, err := f.cache.HoldFoldLease(ctx, f.owner)
		if err != nil || !held {
			return err
		}
		batch, err := f.cache.TakeHitBatch(ctx)
		if err != nil || batch == "" {
			return err
		}
		if err := f.foldBatch(ctx, batch); err != nil {
			return err
		}
	}
}

// foldBatch adds one batch in chunks of sorted codes, so that whoever folds
// it cuts the same chunks with the same ids, then deletes it.
func (f *HitFolder) foldBatch(ctx context.Context, batch string) error {
	hits, malformed, err := f.cache.ReadHitBatch(ctx, batch)
	if err != nil {
		return err
	}
	if malformed > 0 {
		f.logger.Warn("dropped malformed fields of the pending counts", "batch", batch, "fields", malformed)
		if f.Malformed != nil {
			f.Malformed(malformed)
		}
	}
	codes := SortedCodes(hits)
	for start, chunk := 0, 0; start < len(codes); start, chunk = start+HitChunkSize, chunk+1 {
		part := map[string]int64{}
		for _, code := range codes[start:min(start+HitChunkSize, len(codes))] {
			part[code] = hits[code]
		}
		applied, err := f.store.AddHits(ctx, batch+"/"+strconv.Itoa(chunk), part)
		if err != nil {
			return err
		}
		if applied {
			f.mu.Lock()
			f.folded += sum(part)
			f.mu.Unlock()
		}
		if chunk%10 == 9 {
			if _, err := f.cache.HoldFoldLease(ctx, f.owner); err != nil {
				return err
			}
		}
	}
	return f.cache.FinishHitBatch(ctx, batch)
}

// SortedCodes returns the codes of hits in order, so concurrent writers lock rows alike.
func SortedCodes(hits map[string]int64) []string {
	codes := make([]string, 0, len(hits))
	for c := range hits {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	return codes
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func newInstanceID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
