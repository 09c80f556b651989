package backend

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// HitCounter counts redirects in memory and folds them, with the hits the edge
// recorded in Redis, into Postgres every interval; a failed flush keeps them.
type HitCounter struct {
	store    LinkStore
	cache    LinkCache
	logger   *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	pending map[string]int64
}

func NewHitCounter(store LinkStore, cache LinkCache, interval time.Duration, logger *slog.Logger) *HitCounter {
	return &HitCounter{store: store, cache: cache, interval: interval, logger: logger, pending: map[string]int64{}}
}

// Record counts one visit of code; it never blocks on I/O.
func (h *HitCounter) Record(code string) {
	h.mu.Lock()
	h.pending[code]++
	h.mu.Unlock()
}

// Pending is the number of counted visits not yet in Postgres.
func (h *HitCounter) Pending() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var n int64
	for _, v := range h.pending {
		n += v
	}
	return n
}

// Run flushes every interval until ctx ends, then flushes once more; counts
// that still cannot reach Postgres are handed to Redis for another replica.
func (h *HitCounter) Run(ctx context.Context) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			h.takeEdgeHits(ctx)
			if err := h.Flush(ctx); err != nil {
				h.logger.Warn("hit flush failed, will retry", "err", err, "pending", h.Pending())
			}
		case <-ctx.Done():
			h.shutdown()
			return
		}
	}
}

func (h *HitCounter) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Flush(ctx); err == nil {
		return
	}
	left := h.swap()
	if len(left) == 0 {
		return
	}
	if err := h.cache.AddHits(ctx, left); err != nil {
		h.logger.Error("hits lost at shutdown: postgres and redis unavailable", "err", err, "codes", len(left))
	}
}

// takeEdgeHits moves the hits pending in Redis into memory.
func (h *HitCounter) takeEdgeHits(ctx context.Context) {
	taken, err := h.cache.TakeHits(ctx)
	if err != nil {
		h.logger.Debug("taking edge hits failed", "err", err)
		return
	}
	h.merge(taken)
}

// Flush writes the pending counts to Postgres.
func (h *HitCounter) Flush(ctx context.Context) error {
	batch := h.swap()
	if len(batch) == 0 {
		return nil
	}
	if err := h.store.AddHits(ctx, batch); err != nil {
		h.merge(batch)
		return err
	}
	return nil
}

func (h *HitCounter) swap() map[string]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	batch := h.pending
	h.pending = map[string]int64{}
	return batch
}

func (h *HitCounter) merge(hits map[string]int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for code, n := range hits {
		h.pending[code] += n
	}
}

// SortedCodes returns the codes of hits in order, so concurrent flushes lock rows alike.
func SortedCodes(hits map[string]int64) []string {
	codes := make([]string, 0, len(hits))
	for c := range hits {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	return codes
}
