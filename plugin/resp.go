package plugin

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// errClosed fails the calls of a connection that broke.
var errClosed = errors.New("kurz: redis connection closed")

// call is one command in flight; done is closed when its reply arrived.
type call struct {
	val   string
	isNil bool
	n     int64
	err   error
	done  chan struct{}
}

// pipe is one Redis connection, pipelined: callers append commands to a shared
// buffer and whoever finds no write in progress writes all of them in one
// syscall (natural batching); one reader goroutine reads replies in order.
type pipe struct {
	conn        net.Conn
	r           *bufio.Reader
	readTimeout time.Duration

	mu       sync.Mutex
	cond     *sync.Cond
	wbuf     []byte
	spare    []byte
	writing  bool
	inflight []*call
	dead     error
}

// dialPipe connects, authenticates and selects the database synchronously,
// then starts the reader.
func dialPipe(o redisOptions) (*pipe, error) {
	conn, err := net.DialTimeout("tcp", o.addr, o.dialTimeout)
	if err != nil {
		return nil, err
	}
	p := &pipe{}
	p.conn = conn
	p.r = bufio.NewReaderSize(conn, 16<<10)
	p.readTimeout = o.readTimeout
	p.cond = sync.NewCond(&p.mu)
	if err := p.handshake(o); err != nil {
		conn.Close()
		return nil, err
	}
	go p.readLoop()
	return p, nil
}

func (p *pipe) handshake(o redisOptions) error {
	var cmd []byte
	replies := 0
	if o.password != "" {
		if o.username != "" {
			cmd = appendCommand(cmd, "AUTH", o.username, o.password)
		} else {
			cmd = appendCommand(cmd, "AUTH", o.password)
		}
		replies++
	}
	if o.db != 0 {
		cmd = appendCommand(cmd, "SELECT", strconv.Itoa(o.db))
		replies++
	}
	if replies == 0 {
		return nil
	}
	p.conn.SetDeadline(time.Now().Add(o.dialTimeout + o.readTimeout))
	defer p.conn.SetDeadline(time.Time{})
	if _, err := p.conn.Write(cmd); err != nil {
		return err
	}
	for i := 0; i < replies; i++ {
		c := &call{}
		if err := readReply(p.r, c); err != nil {
			return err
		}
		if c.err != nil {
			return c.err
		}
	}
	return nil
}

// send queues a command; the reply arrives in c (c.done closes).
func (p *pipe) send(c *call, args ...string) {
	p.mu.Lock()
	if p.dead != nil {
		p.mu.Unlock()
		c.err = p.dead
		close(c.done)
		return
	}
	p.wbuf = appendCommand(p.wbuf, args...)
	p.inflight = append(p.inflight, c)
	if len(p.inflight) == 1 {
		p.cond.Signal()
	}
	if p.writing {
		p.mu.Unlock()
		return
	}
	p.writing = true
	p.flushLocked()
}

// flushLocked writes the buffer until it stays empty; called with mu held, returns with it released.
func (p *pipe) flushLocked() {
	for len(p.wbuf) > 0 {
		buf := p.wbuf
		p.wbuf = p.spare[:0]
		p.mu.Unlock()
		p.conn.SetWriteDeadline(time.Now().Add(p.readTimeout))
		_, err := p.conn.Write(buf)
		p.mu.Lock()
		p.spare = buf
		if err != nil {
			p.mu.Unlock()
			p.conn.Close() // the reader sees it and fails every call
			p.mu.Lock()
			p.wbuf = p.wbuf[:0]
			break
		}
	}
	p.writing = false
	p.mu.Unlock()
}

// readLoop delivers replies in order until the connection fails.
func (p *pipe) readLoop() {
	for {
		p.mu.Lock()
		for len(p.inflight) == 0 && p.dead == nil {
			p.cond.Wait()
		}
		if p.dead != nil {
			p.mu.Unlock()
			return
		}
		c := p.inflight[0]
		p.mu.Unlock()

		p.conn.SetReadDeadline(time.Now().Add(p.readTimeout))
		if err := readReply(p.r, c); err != nil {
			p.fail(err)
			return
		}
		p.mu.Lock()
		if p.dead != nil { // closed meanwhile: fail has delivered c already
			p.mu.Unlock()
			return
		}
		p.inflight[0] = nil
		p.inflight = p.inflight[1:]
		p.mu.Unlock()
		close(c.done)
	}
}

// fail closes the connection and fails every call in flight.
func (p *pipe) fail(err error) {
	p.conn.Close()
	p.mu.Lock()
	if p.dead == nil {
		p.dead = errClosed
	}
	calls := p.inflight
	p.inflight = nil
	p.cond.Broadcast()
	p.mu.Unlock()
	for _, c := range calls {
		c.err = err
		close(c.done)
	}
}

// broken reports whether the connection has failed.
func (p *pipe) broken() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dead != nil
}

func (p *pipe) close() { p.fail(errClosed) }

func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// replyError is an error reply from Redis: the connection itself is fine.
type replyError struct{ msg string }

func (e *replyError) Error() string { return "redis: " + e.msg }

// errProtocol means the peer does not speak RESP: the connection is dropped.
var errProtocol = errors.New("kurz: redis protocol error")

// readReply reads one RESP2 reply into c: bulk/simple strings in val, integers
// in n, a nil bulk as isNil, an error reply as err. Arrays are skipped.
func readReply(r *bufio.Reader, c *call) error {
	line, err := readLine(r)
	if err != nil {
		return err
	}
	if len(line) == 0 {
		return errProtocol
	}
	switch line[0] {
	case '+':
		c.val = string(line[1:])
	case '-':
		c.err = &replyError{msg: string(line[1:])}
	case ':':
		n, err := strconv.ParseInt(string(line[1:]), 10, 64)
		if err != nil {
			return errProtocol
		}
		c.n = n
	case '$':
		n, err := strconv.Atoi(string(line[1:]))
		if err != nil || n < -1 || n > 512<<20 {
			return errProtocol
		}
		if n == -1 {
			c.isNil = true
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		c.val = string(buf[:n])
	case '*':
		n, err := strconv.Atoi(string(line[1:]))
		if err != nil {
			return errProtocol
		}
		for i := 0; i < n; i++ {
			if err := readReply(r, &call{}); err != nil {
				return err
			}
		}
		c.isNil = n < 0
	default:
		return errProtocol
	}
	return nil
}

func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errProtocol
	}
	return line[:len(line)-2], nil
}
