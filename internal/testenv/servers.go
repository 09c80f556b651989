package testenv

import (
	"context"

	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/internal/stack"
)

// Redis is a redis-server for tests.
type Redis = stack.Redis

// Postgres is a PostgreSQL server for tests.
type Postgres struct{ *stack.Postgres }

var (
	sharedRedis   *Redis
	sharedPG      Postgres
	sharedErr     = map[string]error{}
	redisOnce     sync.Once
	pgOnce        sync.Once
	databaseCount atomic.Int64
)

// SharedRedis returns a server shared by the tests of this binary, emptied
// for each test: tests of one binary run one after another, and links of
// different test databases would otherwise meet under the same keys.
func SharedRedis(tb testing.TB) *Redis {
	tb.Helper()
	redisOnce.Do(func() {
		r, err := startRedis(tb)
		sharedRedis, sharedErr["redis"] = r, err
		if err == nil {
			atExit(r.Stop)
		}
	})
	Need(tb, "redis-server", sharedErr["redis"])
	c := goredis.NewClient(&goredis.Options{Addr: sharedRedis.Addr()})
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		tb.Fatalf("emptying the shared Redis: %v", err)
	}
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
	r := &Redis{Port: FreePort(tb), Dir: TempDir(tb, "redis")}
	return r, r.Start()
}

// SharedPostgres returns a server shared by the tests of this binary; tests use their own database.
func SharedPostgres(tb testing.TB) Postgres {
	tb.Helper()
	pgOnce.Do(func() {
		p, err := startPostgres(tb)
		sharedPG, sharedErr["postgres"] = p, err
		if err == nil {
			atExit(p.Stop)
		}
	})
	Need(tb, "postgresql", sharedErr["postgres"])
	return sharedPG
}

// NewPostgres returns a server of the test's own, which it may stop and start.
func NewPostgres(tb testing.TB) Postgres {
	tb.Helper()
	p, err := startPostgres(tb)
	Need(tb, "postgresql", err)
	tb.Cleanup(p.Stop)
	return p
}

func startPostgres(tb testing.TB) (Postgres, error) {
	p := Postgres{&stack.Postgres{Port: FreePort(tb), Dir: TempDir(tb, "pg")}}
	return p, p.Start()
}

// NewDatabase creates an empty database for one test and returns its URL.
func (p Postgres) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("kurz_test_%d_%d", os.Getpid(), databaseCount.Add(1))
	if err := p.CreateDatabase(name); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	return p.URL(name)
}
