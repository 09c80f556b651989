// Package floorredis is make bench's floor for the edge's Redis path, not
// shipped: the least an interpreted plugin can do to answer from Redis —
// one GET per request, pipelined with the others on one shared connection,
// and a 301 — so that the edge's Redis path is measured against it in the
// same Traefik. No retries, no breaker, no counting: a floor, not a product.
package floorredis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Config names Redis.
type Config struct {
	RedisAddress string `json:"redisAddress,omitempty"`
}

// CreateConfig is Traefik's hook for the default configuration.
func CreateConfig() *Config { return &Config{} }

// Floor answers each code with its code:<code> value from Redis.
type Floor struct {
	next http.Handler
	pipe *pipe
}

// pipes are shared across Traefik's reloads (it calls New again, and has no Close).
var (
	pipesMu sync.Mutex
	pipes   = map[string]*pipe{}
)

// New keeps one pipelined connection to Redis per address.
func New(_ context.Context, next http.Handler, cfg *Config, _ string) (http.Handler, error) {
	if cfg.RedisAddress == "" {
		return nil, errors.New("floorredis: redisAddress is required")
	}
	pipesMu.Lock()
	defer pipesMu.Unlock()
	p := pipes[cfg.RedisAddress]
	if p == nil {
		p = &pipe{addr: cfg.RedisAddress}
		pipes[cfg.RedisAddress] = p
	}
	return &Floor{next: next, pipe: p}, nil
}

func (f *Floor) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	if len(req.URL.Path) > 1 {
		if target, ok := f.pipe.get("code:" + req.URL.Path[1:]); ok {
			rw.Header()["Location"] = []string{target}
			rw.WriteHeader(http.StatusMovedPermanently)
			return
		}
	}
	f.next.ServeHTTP(rw, req)
}

// pipe writes GETs on one connection as they come and reads their replies in
// order: many in flight at once, one write and one read each.
type pipe struct {
	addr string

	mu      sync.Mutex // orders the writes and the queue of waiting calls
	conn    net.Conn
	w       *bufio.Writer
	waiting chan *call
}

type call struct {
	done  chan bool
	value string
}

func (p *pipe) get(key string) (string, bool) {
	c := &call{done: make(chan bool, 1)}
	p.mu.Lock()
	if p.w == nil && !p.dial() {
		p.mu.Unlock()
		return "", false
	}
	p.w.WriteString("*2\r\n$3\r\nGET\r\n$" + strconv.Itoa(len(key)) + "\r\n" + key + "\r\n")
	err := p.w.Flush()
	if err == nil {
		p.waiting <- c
	} else {
		p.conn.Close() // its reader fails the calls already written
		p.w = nil
	}
	p.mu.Unlock()
	if err != nil {
		return "", false
	}
	ok := <-c.done
	return c.value, ok
}

// dial opens the connection and starts its reader; called with mu held.
func (p *pipe) dial() bool {
	conn, err := net.DialTimeout("tcp", p.addr, time.Second)
	if err != nil {
		return false
	}
	waiting := make(chan *call, 4096)
	p.conn = conn
	p.w = bufio.NewWriter(conn)
	p.waiting = waiting
	go p.read(conn, waiting)
	return true
}

// read answers the waiting calls in order until the connection fails, then
// fails the calls written before the failure.
func (p *pipe) read(conn net.Conn, waiting chan *call) {
	r := bufio.NewReader(conn)
	for c := range waiting {
		value, err := readBulk(r)
		if err == nil {
			c.value = value
			c.done <- value != ""
			continue
		}
		c.done <- false
		conn.Close()
		p.mu.Lock()
		if p.waiting == waiting {
			p.w = nil // no call is queued here any more
		}
		p.mu.Unlock()
		for len(waiting) > 0 {
			(<-waiting).done <- false
		}
		return
	}
}

// readBulk reads a bulk string reply; a nil one is "".
func readBulk(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil || len(line) < 3 || line[0] != '$' {
		return "", fmt.Errorf("floorredis: unexpected reply %q (%v)", line, err)
	}
	n, err := strconv.Atoi(line[1 : len(line)-2])
	if err != nil || n < 0 {
		return "", err
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
