package testenv

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DelayProxy forwards TCP connections to a real server, holding each chunk of
// bytes for the current delay in one direction: a slow network or a slow
// server that still does everything it is asked.
type DelayProxy struct {
	ln       net.Listener
	target   string
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	toServer atomic.Int64 // delay of client → server bytes, in ns
	toClient atomic.Int64 // delay of server → client bytes, in ns
	mu       sync.Mutex
	conns    []net.Conn
}

// MustDelayProxy starts a proxy to target (host:port) on a free loopback port.
func MustDelayProxy(tb testing.TB, target string) *DelayProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return MustDelayProxyOn(tb, ln, (&net.Dialer{}).DialContext, target)
}

// MustDelayProxyOn is MustDelayProxy accepting on ln and reaching target
// with dial: a proxy on a host of a test's own network (netsplit).
func MustDelayProxyOn(tb testing.TB, ln net.Listener, dial func(ctx context.Context, network, addr string) (net.Conn, error), target string) *DelayProxy {
	tb.Helper()
	p := &DelayProxy{ln: ln, target: target, dial: dial}
	go p.accept()
	tb.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *DelayProxy) Addr() string { return p.ln.Addr().String() }

// Delay sets how long bytes toward the server and toward the client are held.
func (p *DelayProxy) Delay(toServer, toClient time.Duration) {
	p.toServer.Store(int64(toServer))
	p.toClient.Store(int64(toClient))
}

// Close stops the proxy and its connections.
func (p *DelayProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

func (p *DelayProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := p.dial(context.Background(), "tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		go p.pipe(server, client, &p.toServer)
		go p.pipe(client, server, &p.toClient)
	}
}

// pipe copies src to dst in order, each chunk sent delay after it was read.
func (p *DelayProxy) pipe(dst, src net.Conn, delay *atomic.Int64) {
	type chunk struct {
		at   time.Time
		data []byte
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer dst.Close()
		for c := range chunks {
			time.Sleep(time.Until(c.at))
			if _, err := dst.Write(c.data); err != nil {
				return
			}
		}
	}()
	defer close(chunks)
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunks <- chunk{at: time.Now().Add(time.Duration(delay.Load())), data: append([]byte(nil), buf[:n]...)}
		}
		if err != nil {
			if err != io.EOF {
				src.Close()
			}
			return
		}
	}
}
