package stack

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Redis is a redis-server on a loopback port with its files in Dir. It
// evicts only keys with a TTL (caches), never the pending counts.
type Redis struct {
	Place
	Port      int
	Dir       string
	Persist   bool     // append-only file, for `make run`
	MaxMemory string   // e.g. "256mb"; evicts volatile-lru beyond it
	ReplicaOf *Redis   // start as its replica
	Extra     []string // more redis-server options, e.g. "--min-replicas-to-write", "1"
	proc      *Process
}

// Addr is host:port of the server.
func (r *Redis) Addr() string { return r.host() + ":" + strconv.Itoa(r.Port) }

// URL is the redis:// URL of database 0.
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

// Start starts the server and waits until it accepts connections.
func (r *Redis) Start() error {
	bin, err := LookPath("REDIS_SERVER", "redis-server", "/usr/bin/redis-server")
	if err != nil {
		return err
	}
	maxmem := r.MaxMemory
	if maxmem == "" {
		maxmem = "256mb"
	}
	aof := "no"
	if r.Persist {
		aof = "yes"
	}
	args := []string{"--port", strconv.Itoa(r.Port), "--bind", r.host(), "--save", "", "--appendonly", aof,
		"--dir", r.Dir, "--maxmemory", maxmem, "--maxmemory-policy", "volatile-lru", "--enable-debug-command", "local",
		"--repl-diskless-sync-delay", "0"} // replicas start their first sync at once
	if r.ReplicaOf != nil {
		args = append(args, "--replicaof", r.ReplicaOf.host(), strconv.Itoa(r.ReplicaOf.Port))
	}
	if r.Host != "" { // a test's own network: nothing but its hosts can reach it
		args = append(args, "--protected-mode", "no")
	}
	args = append(args, r.Extra...)
	p, err := StartProcess(bin, args, filepath.Join(r.Dir, "redis.log"), ProcessOptions{Prefix: r.Prefix})
	if err != nil {
		return err
	}
	r.proc = p
	if err := waitTCP(r.Dial, r.Addr(), 10*time.Second); err != nil {
		return fmt.Errorf("%w\n%s", err, p.Tail())
	}
	return nil
}

// Stop stops the server; Start brings it back on the same port.
func (r *Redis) Stop() { r.proc.Stop(syscall.SIGTERM) }

// Signal sends sig to the server (SIGSTOP freezes it with its connections open, SIGCONT resumes it).
func (r *Redis) Signal(sig syscall.Signal) error { return r.proc.SignalGroup(sig) }

// Kill ends the server at once, as a crash would.
func (r *Redis) Kill() { r.proc.Kill() }

// Running reports whether the server was started and has not ended.
func (r *Redis) Running() bool { return r.proc != nil && !r.proc.Exited() }

// waitReplicas waits until n replicas finished their first sync: until then
// the master lists none, so it promises no replication to anyone waiting.
func (r *Redis) waitReplicas(n int, timeout time.Duration) error {
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr(), Dialer: r.dial()})
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for {
		info, err := c.Info(context.Background(), "replication").Result()
		online := strings.Count(info, "state=online")
		if err == nil && online >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis: %d of %d replicas online after %s (%v)", online, n, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
