package plugin

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/kurzlink/kurz/link"
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

// pipe is one Redis connection with natural batching: callers queue their
// commands, and whoever finds no batch in flight writes all queued commands
// in one write; the reader, having read a batch's replies, writes the next.
// Requests arriving during a round trip thus share the next one.
type pipe struct {
	conn        net.Conn
	r           *bufio.Reader
	readTimeout time.Duration
	client      *redisClient // told when the connection fails

	mu       sync.Mutex
	cond     *sync.Cond
	wbuf     []byte  // queued commands
	queued   []*call // their calls
	spare    []byte
	inflight []*call // the batch written, awaiting replies in order
	writing  bool
	dead     bool
}

// dialPipe connects, authenticates and selects the database synchronously,
// then starts the reader.
func dialPipe(o redisOptions, client *redisClient) (*pipe, error) {
	conn, err := net.DialTimeout("tcp", o.addr, o.dialTimeout)
	if err != nil {
		return nil, err
	}
	p := &pipe{}
	p.conn = conn
	p.r = bufio.NewReaderSize(conn, 32<<10)
	p.readTimeout = o.readTimeout
	p.client = client
	p.cond = sync.NewCond(&p.mu)
	if err := handshake(conn, p.r, o, true); err != nil {
		conn.Close()
		return nil, err
	}
	go p.readLoop()
	return p, nil
}

// handshake authenticates and, when selectDB, selects the database.
func handshake(conn net.Conn, r *bufio.Reader, o redisOptions, selectDB bool) error {
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
	if o.db != 0 && selectDB {
		cmd = appendCommand(cmd, "SELECT", strconv.Itoa(o.db))
		replies++
	}
	if replies == 0 {
		return nil
	}
	conn.SetDeadline(time.Now().Add(o.dialTimeout + o.readTimeout))
	defer conn.SetDeadline(time.Time{})
	if _, err := conn.Write(cmd); err != nil {
		return err
	}
	for i := 0; i < replies; i++ {
		c := &call{}
		if err := readReply(r, c); err != nil {
			return err
		}
		if c.err != nil {
			return c.err
		}
	}
	return nil
}

// send queues the encoded command cmd; the reply arrives in c (c.done closes).
func (p *pipe) send(c *call, cmd []byte) {
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		c.err = errClosed
		close(c.done)
		return
	}
	p.wbuf = append(p.wbuf, cmd...)
	p.queued = append(p.queued, c)
	if p.writing || p.inflight != nil {
		p.mu.Unlock() // the reader writes it after the batch in flight
		return
	}
	p.flushLocked()
}

// flushLocked writes the queued batch; called with mu held, returns with it
// released. No write deadline: if Redis stalls, the reader's deadline closes
// the connection, which ends a blocked write too.
func (p *pipe) flushLocked() {
	buf := p.wbuf
	p.wbuf = p.spare[:0]
	p.inflight = append(p.inflight, p.queued...)
	p.queued = p.queued[:0]
	p.writing = true
	p.cond.Signal()
	p.mu.Unlock()

	_, err := p.conn.Write(buf)

	p.mu.Lock()
	p.spare = buf
	p.writing = false
	p.mu.Unlock()
	if err != nil {
		p.conn.Close() // the reader sees it and fails every call
	}
}

// readLoop reads each batch's replies, writes the next batch, then wakes the
// callers, until the connection fails.
func (p *pipe) readLoop() {
	for {
		p.mu.Lock()
		for p.inflight == nil && !p.dead {
			p.cond.Wait()
		}
		if p.dead {
			p.mu.Unlock()
			return
		}
		batch := p.inflight
		p.mu.Unlock()

		p.conn.SetReadDeadline(time.Now().Add(p.readTimeout))
		for i := 0; i < len(batch); i++ {
			if err := p.readBulkOrReply(batch[i]); err != nil {
				p.fail(err)
				return
			}
		}
		p.mu.Lock()
		if p.dead { // closed meanwhile: fail has woken the batch already
			p.mu.Unlock()
			return
		}
		p.inflight = nil
		if len(p.queued) > 0 && !p.writing {
			p.flushLocked()
		} else {
			p.mu.Unlock()
		}
		for i := 0; i < len(batch); i++ {
			close(batch[i].done)
		}
	}
}

// fail closes the connection, fails every call in flight or queued, and opens
// the client's breaker.
func (p *pipe) fail(err error) {
	p.conn.Close()
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		return
	}
	p.dead = true
	calls := append(p.inflight, p.queued...)
	p.inflight = nil
	p.queued = nil
	p.cond.Broadcast()
	p.mu.Unlock()
	for _, c := range calls {
		c.err = err
		close(c.done)
	}
	p.client.failed(p)
}

func (p *pipe) close() { p.fail(errClosed) }

// getCodePrefix starts GET code:{code} (every code has link.CodeLength bytes):
// the lookup appends the code and CRLF.
var getCodePrefix = "*2\r\n$3\r\nGET\r\n$" + strconv.Itoa(len(link.CodeKeyPrefix)+link.CodeLength) + "\r\n" + link.CodeKeyPrefix

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

// readBulkOrReply reads one reply into c, parsing a bulk string (what GET
// answers) inline, since it is read once per lookup.
func (p *pipe) readBulkOrReply(c *call) error {
	line, err := p.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(line) < 4 || line[0] != '$' || line[len(line)-2] != '\r' {
		return parseReply(p.r, line, c)
	}
	if line[1] == '-' {
		c.isNil = true
		return nil
	}
	n := 0
	for j := 1; j < len(line)-2; j++ {
		d := line[j]
		if d < '0' || d > '9' || j > 10 {
			return errProtocol
		}
		n = n*10 + int(d-'0')
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(p.r, buf); err != nil {
		return err
	}
	c.val = string(buf[:n])
	return nil
}

// readReply reads one RESP2 reply into c: bulk/simple strings in val, integers
// in n, a nil bulk as isNil, an error reply as err. Arrays are skipped.
func readReply(r *bufio.Reader, c *call) error {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return err
	}
	return parseReply(r, line, c)
}

// parseReply parses the reply that starts with line (CRLF included).
func parseReply(r *bufio.Reader, line []byte, c *call) error {
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return errProtocol
	}
	line = line[:len(line)-2]
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
		n, ok := parseLength(line[1:])
		if !ok || n < -1 || n > 512<<20 {
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

// parseLength parses a RESP length; a loop is cheaper than a call under Yaegi.
func parseLength(b []byte) (int, bool) {
	if len(b) == 2 && b[0] == '-' && b[1] == '1' {
		return -1, true
	}
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(b); i++ {
		if b[i] < '0' || b[i] > '9' {
			return 0, false
		}
		n = n*10 + int(b[i]-'0')
	}
	return n, true
}
