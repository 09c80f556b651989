package redis

import (
	"context"
	"errors"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

var (
	// errCoolingDown fails Redis calls at once while the breaker is open.
	errCoolingDown = errors.New("redis unavailable, cooling down")
	// errCommandTimeout is the cause of a command's own timeout.
	errCommandTimeout = errors.New("redis command timed out")
)

type backgroundKey struct{}

// Background marks work that is retried until done (invalidations, counts):
// it is tried even while the breaker is open, since requests do not wait for it.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

func isBackground(ctx context.Context) bool { return ctx.Value(backgroundKey{}) != nil }

// breaker is a go-redis hook: after a connection failure or timeout, every
// command fails at once for the cooldown, so a Redis that hangs costs one
// timeout, not one per request; then commands are tried again.
type breaker struct {
	cooldown time.Duration

	mu        sync.Mutex
	openUntil time.Time
}

func (b *breaker) open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Now().Before(b.openUntil)
}

// record opens the breaker on failures of the connection or the command's own
// timeout, not on replies and not when the caller gave up (a client hung up).
func (b *breaker) record(ctx context.Context, err error) {
	var reply goredis.Error
	if err == nil || errors.Is(err, goredis.Nil) || errors.As(err, &reply) || errors.Is(err, errCoolingDown) {
		return
	}
	if ctx.Err() != nil && context.Cause(ctx) != errCommandTimeout {
		return
	}
	b.mu.Lock()
	b.openUntil = time.Now().Add(b.cooldown)
	b.mu.Unlock()
}

func (b *breaker) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (b *breaker) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if b.open() && !isBackground(ctx) {
			cmd.SetErr(errCoolingDown)
			return errCoolingDown
		}
		err := next(ctx, cmd)
		b.record(ctx, err)
		return err
	}
}

func (b *breaker) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if b.open() && !isBackground(ctx) {
			for _, cmd := range cmds {
				cmd.SetErr(errCoolingDown)
			}
			return errCoolingDown
		}
		err := next(ctx, cmds)
		b.record(ctx, err)
		return err
	}
}
