package plugin

import (
	"errors"
	"sync"
	"time"
)

// errBreakerOpen answers lookups at once while Redis is considered down.
var errBreakerOpen = errors.New("kurz: redis unavailable, cooling down")

type redisOptions struct {
	addr        string
	username    string
	password    string
	db          int
	dialTimeout time.Duration
	readTimeout time.Duration
	cooldown    time.Duration
}

// redisClient holds one pipelined connection and a circuit breaker: after a
// failure, lookups fail at once for the cooldown, then one dial is tried.
type redisClient struct {
	opts redisOptions

	mu        sync.Mutex
	p         *pipe // nil when broken
	dialing   bool
	openUntil time.Time
	failures  int64
}

func newRedisClient(o redisOptions) *redisClient { return &redisClient{opts: o} }

// pipe returns the open connection, or an error without waiting when the
// breaker is open or another caller is dialing.
func (c *redisClient) pipe() (*pipe, error) {
	c.mu.Lock()
	p := c.p
	if p != nil {
		c.mu.Unlock()
		return p, nil
	}
	if c.dialing || time.Now().Before(c.openUntil) {
		c.mu.Unlock()
		return nil, errBreakerOpen
	}
	c.dialing = true
	c.mu.Unlock()

	np, err := dialPipe(c.opts, c)
	c.mu.Lock()
	c.dialing = false
	if err != nil {
		c.openUntil = time.Now().Add(c.opts.cooldown)
		c.failures++
	} else {
		c.p = np
	}
	c.mu.Unlock()
	return np, err
}

// connect opens the connection ahead of the first lookup. A function of its
// own: Yaegi calls a function that once ran as a goroutine through reflection
// from then on, which would slow every pipe() call.
func (c *redisClient) connect() { c.pipe() }

// failed forgets a broken connection and opens the breaker.
func (c *redisClient) failed(p *pipe) {
	c.mu.Lock()
	if c.p == p {
		c.p = nil
	}
	c.openUntil = time.Now().Add(c.opts.cooldown)
	c.failures++
	c.mu.Unlock()
}

// connected reports whether a healthy connection is open.
func (c *redisClient) connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p != nil
}

// do sends one command and waits for its reply.
func (c *redisClient) do(args ...string) (*call, error) {
	return c.doEncoded(appendCommand(nil, args...))
}

func (c *redisClient) doEncoded(cmd []byte) (*call, error) {
	p, err := c.pipe()
	if err != nil {
		return nil, err
	}
	cl := &call{done: make(chan struct{})}
	p.send(cl, cmd)
	<-cl.done
	return cl, cl.err
}

// doAll sends commands in one batch and waits for every reply.
func (c *redisClient) doAll(cmds [][]string) error {
	p, err := c.pipe()
	if err != nil {
		return err
	}
	calls := make([]*call, len(cmds))
	for i, args := range cmds {
		calls[i] = &call{done: make(chan struct{})}
		p.send(calls[i], appendCommand(nil, args...))
	}
	var first error
	for _, cl := range calls {
		<-cl.done
		if cl.err != nil && first == nil {
			first = cl.err
		}
	}
	return first
}
