package redis

import (
	"context"
	"errors"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// errCoolingDown fails Redis calls at once while the breaker is open.
var errCoolingDown = errors.New("redis unavailable, cooling down")

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

// record opens the breaker on failures of the connection, not on replies.
func (b *breaker) record(err error) {
	var reply goredis.Error
	if err == nil || errors.Is(err, goredis.Nil) || errors.As(err, &reply) || errors.Is(err, errCoolingDown) {
		return
	}
	b.mu.Lock()
	b.openUntil = time.Now().Add(b.cooldown)
	b.mu.Unlock()
}

func (b *breaker) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (b *breaker) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if b.open() {
			cmd.SetErr(errCoolingDown)
			return errCoolingDown
		}
		err := next(ctx, cmd)
		b.record(err)
		return err
	}
}

func (b *breaker) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if b.open() {
			for _, cmd := range cmds {
				cmd.SetErr(errCoolingDown)
			}
			return errCoolingDown
		}
		err := next(ctx, cmds)
		b.record(err)
		return err
	}
}
