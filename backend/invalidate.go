package backend

import (
	"context"
	"log/slog"
	"time"
)

// Invalidator makes an answered PATCH or DELETE reach the caches: each change
// stores its Invalidation in Postgres with the change; the Invalidator applies
// it in Redis right after the commit and, if Redis did not answer, again every
// interval until it is done, whichever replica gets there first (applying one
// twice does no harm). Neither depends on the request: a client hanging up
// after the commit does not skip it.
type Invalidator struct {
	store    LinkStore
	cache    LinkCache
	logger   *slog.Logger
	interval time.Duration
	timeout  time.Duration
}

func NewInvalidator(store LinkStore, cache LinkCache, interval, timeout time.Duration, logger *slog.Logger) *Invalidator {
	return &Invalidator{store: store, cache: cache, logger: logger, interval: interval, timeout: timeout}
}

// Apply invalidates inv now, detached from the caller's context; on failure
// Run retries it.
func (v *Invalidator) Apply(ctx context.Context, inv Invalidation) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.timeout)
	defer cancel()
	if err := v.cache.Invalidate(ctx, inv); err != nil {
		v.logger.Warn("cache invalidation failed, retrying in the background", "code", inv.Code, "err", err)
		return err
	}
	if err := v.store.DeleteInvalidations(ctx, []int64{inv.ID}); err != nil {
		v.logger.Warn("forgetting a done invalidation failed; it will be applied again", "code", inv.Code, "err", err)
	}
	return nil
}

// Run applies stored invalidations every interval until ctx ends.
func (v *Invalidator) Run(ctx context.Context) {
	failures := retryLog{logger: v.logger, what: "applying stored cache invalidations"}
	every(ctx, v.interval, func() {
		if err := v.applyPending(ctx); ctx.Err() == nil {
			failures.record(err)
		}
	})
}

func (v *Invalidator) applyPending(ctx context.Context) error {
	invs, err := v.store.PendingInvalidations(ctx, 100)
	if err != nil || len(invs) == 0 {
		return err
	}
	var done []int64
	for _, inv := range invs {
		if err = v.cache.Invalidate(ctx, inv); err != nil {
			break
		}
		done = append(done, inv.ID)
	}
	if len(done) > 0 {
		if derr := v.store.DeleteInvalidations(ctx, done); derr != nil {
			return derr
		}
		v.logger.Info("applied pending cache invalidations", "count", len(done))
	}
	return err
}
