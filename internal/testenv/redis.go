package testenv

import (
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a redis-server on a free loopback port.
type Redis struct {
	Addr string
	bin  string
	dir  string
	port int
	proc *Process
}

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return "redis://" + r.Addr + "/0" }

var (
	sharedRedis     *Redis
	sharedRedisErr  error
	sharedRedisOnce sync.Once
)

// SharedRedis returns a server shared by the tests of this binary; tests use distinct keys or FLUSHDB.
func SharedRedis(tb testing.TB) *Redis {
	tb.Helper()
	sharedRedisOnce.Do(func() {
		sharedRedis, sharedRedisErr = startRedis(tb)
		if sharedRedisErr == nil {
			atExit(func() { sharedRedis.Stop() })
		}
	})
	Need(tb, "redis-server", sharedRedisErr)
	return sharedRedis
}

// NewRedis returns a server of the test's own, which it may stop and start.
func NewRedis(tb testing.TB) *Redis {
	tb.Helper()
	r, err := startRedis(tb)
	Need(tb, "redis-server", err)
	tb.Cleanup(r.Stop)
	return r
}

func startRedis(tb testing.TB) (*Redis, error) {
	bin, err := lookPath("REDIS_SERVER", "redis-server")
	if err != nil {
		return nil, err
	}
	dir, err := TempDir("redis")
	if err != nil {
		return nil, err
	}
	r := &Redis{bin: bin, dir: dir, port: FreePort(tb)}
	r.Addr = fmt.Sprintf("127.0.0.1:%d", r.port)
	return r, r.Start()
}

// Start (re)starts the server on its port.
func (r *Redis) Start() error {
	args := []string{"--port", itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru"}
	p, err := Start(r.bin, args, filepath.Join(r.dir, "redis.log"), nil)
	if err != nil {
		return err
	}
	r.proc = p
	if err := WaitTCP(r.Addr, 10*time.Second); err != nil {
		return fmt.Errorf("%w\n%s", err, p.Tail())
	}
	return nil
}

// Stop stops the server; Start brings it back on the same port.
func (r *Redis) Stop() { r.proc.Stop(syscall.SIGTERM) }
