package plugin

import (
	"bufio"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kurzlink/kurz/link"
)

var (
	// errBreakerOpen answers lookups at once while Redis is considered down.
	errBreakerOpen = errors.New("kurz: redis unavailable, cooling down")
	// errClosed fails the calls of a connection that broke.
	errClosed = errors.New("kurz: redis connection closed")
	// errStalled fails a call whose reply did not come within its deadline.
	errStalled = errors.New("kurz: redis reply overdue")
)

type redisOptions struct {
	addr        string
	username    string
	password    string
	db          int
	dialTimeout time.Duration
	readTimeout time.Duration
	cooldown    time.Duration
	// With sentinels, the master of masterName is dialled instead of addr.
	sentinels        []string
	masterName       string
	sentinelUsername string
	sentinelPassword string
}

// sentinelOptions are the credentials and timeouts for talking to a Sentinel.
func (o redisOptions) sentinelOptions() redisOptions {
	return redisOptions{username: o.sentinelUsername, password: o.sentinelPassword, dialTimeout: o.dialTimeout, readTimeout: o.readTimeout}
}

// key tells settings apart for the package-level registry.
func (o redisOptions) key() string {
	return fmt.Sprintf("%s|%s|%s|%d|%s|%s|%s|%s|%s|%s|%s", o.addr, o.username, o.password, o.db, o.dialTimeout, o.readTimeout, o.cooldown,
		strings.Join(o.sentinels, ","), o.masterName, o.sentinelUsername, o.sentinelPassword)
}

// redisClient holds one pipelined connection and a circuit breaker: after a
// failed dial or a timeout, calls fail at once for the cooldown, then one
// dial is tried. A connection the server closed (idle timeout, restart) is
// dialled again at once without opening the breaker.
type redisClient struct {
	opts redisOptions

	mu        sync.Mutex
	p         *pipe // nil when broken
	dialing   bool
	dialDone  chan struct{} // closed when the dial under way ends; nil when it probes a Redis that failed
	healthy   bool          // the last dial succeeded and no reply has timed out since
	openUntil time.Time
	failures  int64      // dials and timeouts that opened the breaker
	errors    int64      // connections failed, timeouts included
	timeouts  int64      // replies overdue
	master    string     // the address of the last master dialled
	subs      []net.Conn // open subscriptions, closed when the master changes
	masters   int64      // times a new connection found another master
	rtt       []int64    // round trips by link.EdgeRTTBounds
	rttSum    int64      // microseconds
	batch     []int64    // batch sizes by link.EdgeBatchBounds
	batchSum  int64

	// follower is the client of the same Redis for pushes; it follows the
	// master switches this one hears of.
	follower *redisClient
	quorum   link.ReplicaQuorum // the replicas a push must reach
	pushMu   sync.Mutex         // one pushAll at a time: WAIT covers its connection's writes

	// The watchdog's view of the batch in flight: its connection, its number
	// (counted per connection) and when first seen.
	watchedPipe  *pipe
	watchedBatch int64
	watchedSince time.Time
}

func newRedisClient(o redisOptions) *redisClient {
	c := &redisClient{opts: o, quorum: link.ReplicaQuorum{Sentinels: len(o.sentinels) > 0}}
	c.rtt = make([]int64, len(link.EdgeRTTBounds)+1)
	c.batch = make([]int64, len(link.EdgeBatchBounds)+1)
	return c
}

// pipe returns the open connection, or an error without waiting when the
// breaker is open or another caller probes a Redis that failed. A caller that
// finds a healthy connection's redial under way (the server closed it) waits
// for it: that dial is quick, and passing on would cost a backend hop.
// edge.lookup has an inlined copy of its fast path: keep the two alike.
func (c *redisClient) pipe() (*pipe, error) {
	c.mu.Lock()
	p := c.p
	if p != nil {
		c.mu.Unlock()
		return p, nil
	}
	if c.dialing {
		wait := c.dialDone
		c.mu.Unlock()
		if wait == nil {
			return nil, errBreakerOpen
		}
		return c.awaitDial(wait)
	}
	if time.Now().Before(c.openUntil) {
		c.mu.Unlock()
		return nil, errBreakerOpen
	}
	c.dialing = true
	var done chan struct{}
	if c.healthy {
		done = make(chan struct{})
	}
	c.dialDone = done
	c.mu.Unlock()

	np, err := dialPipe(c.opts, c)
	c.mu.Lock()
	c.dialing = false
	c.dialDone = nil
	c.healthy = err == nil
	if err != nil {
		c.openUntil = time.Now().Add(c.opts.cooldown)
		c.failures++
	} else {
		c.p = np
		// With Sentinels another address is another master; without, one
		// name may resolve to several addresses of the same server.
		if addr := np.conn.RemoteAddr().String(); addr != c.master && len(c.opts.sentinels) > 0 {
			if c.master != "" {
				c.masters++
				for _, s := range c.subs { // they follow: a frozen old master would keep them open, silent
					s.Close()
				}
			}
			c.master = addr
		}
	}
	c.mu.Unlock()
	if done != nil {
		close(done)
	}
	return np, err
}

// awaitDial waits, within the reply deadline, for another caller's dial to end.
func (c *redisClient) awaitDial(done chan struct{}) (*pipe, error) {
	t := time.NewTimer(c.replyDeadline())
	select {
	case <-done:
	case <-t.C:
	}
	t.Stop()
	c.mu.Lock()
	p := c.p
	c.mu.Unlock()
	if p == nil {
		return nil, errBreakerOpen
	}
	return p, nil
}

// watchSubscription registers a subscription's connection, to be closed when
// the master changes; false (and closed) if it reached another master than
// the data connection's.
func (c *redisClient) watchSubscription(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.opts.sentinels) > 0 && c.master != "" && conn.RemoteAddr().String() != c.master {
		conn.Close()
		return false
	}
	c.subs = append(c.subs, conn)
	return true
}

// forgetSubscription drops a subscription's connection from the client's list.
func (c *redisClient) forgetSubscription(conn net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.subs {
		if s == conn {
			c.subs = append(c.subs[:i], c.subs[i+1:]...)
			return
		}
	}
}

// connect opens the connection ahead of the first lookup. A function of its
// own: Yaegi calls a function that once ran as a goroutine through reflection
// from then on, which would slow every pipe() call.
func (c *redisClient) connect() { c.pipe() }

// reset drops the open connection, without opening the breaker: the next
// command dials again (after a master switch, to the new master).
func (c *redisClient) reset() {
	c.mu.Lock()
	p := c.p
	c.mu.Unlock()
	if p != nil {
		p.fail(errClosed)
	}
}

// failed forgets a broken connection; only a timeout opens the breaker, since
// a closed connection is most often an idle one the server dropped.
func (c *redisClient) failed(p *pipe, err error) {
	c.mu.Lock()
	if c.p == p {
		c.p = nil
	}
	c.errors++
	if isTimeout(err) {
		c.timeouts++
		c.openUntil = time.Now().Add(c.opts.cooldown)
		c.failures++
		c.healthy = false
	}
	c.mu.Unlock()
}

func isTimeout(err error) bool {
	var ne net.Error
	return err == errStalled || (errors.As(err, &ne) && ne.Timeout())
}

// options are the settings the client dials with, for connections of other kinds (pub/sub).
func (c *redisClient) options() redisOptions { return c.opts }

// connected reports whether a healthy connection is open.
func (c *redisClient) connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p != nil
}

// replyDeadline bounds every wait for a reply: the batch in flight, then the
// caller's own, each bounded by the read deadline, and the write before them.
func (c *redisClient) replyDeadline() time.Duration {
	return 2*c.opts.readTimeout + c.opts.dialTimeout
}

// do sends one command and waits for its reply.
func (c *redisClient) do(args ...string) (*call, error) {
	calls, err := c.doAll([][]string{args})
	if err != nil {
		return nil, err
	}
	return calls[0], calls[0].err
}

// doAll sends commands in one batch and waits for every reply; a connection
// that the server closed while idle is dialled again and the batch resent once.
func (c *redisClient) doAll(cmds [][]string) ([]*call, error) {
	calls, _, err := c.doAllOn(cmds)
	return calls, err
}

// doAllOn is doAll, also returning the connection that answered.
func (c *redisClient) doAllOn(cmds [][]string) ([]*call, *pipe, error) {
	var buf []byte
	for _, args := range cmds {
		buf = appendCommand(buf, args...)
	}
	for attempt := 0; ; attempt++ {
		p, err := c.pipe()
		if err != nil {
			return nil, nil, err
		}
		calls := make([]*call, len(cmds))
		for i := range calls {
			calls[i] = newCall()
		}
		p.sendBatch(calls, buf)
		err = waitAll(calls, c.replyDeadline(), p)
		if err == nil && readOnly(calls) { // a demoted master: find the new one
			err = errNotMaster
			p.fail(err)
		}
		if err != nil && attempt == 0 && !isTimeout(err) {
			continue
		}
		return calls, p, err
	}
}

// errNotReplicated is a push the master applied that too few replicas
// acknowledged in time: a failover now would lose it, so it is kept and sent
// again (its batch id makes that add nothing where it arrived).
var errNotReplicated = errors.New("kurz: push on too few replicas")

// push is a write kept until as many replicas have it as
// link.ReplicaQuorum needs: a batch of hits or of visits. Its command adds
// nothing where it was applied before (its batch id), so it may go again.
type push struct {
	cmd []string
	on  *pipe // the connection that applied it; nil: not known to be applied
}

// pushAll sends the pushes the current connection has not applied (at most
// maxSent of them, oldest first), then ROLE
// and, when the quorum needs replicas, WAIT, which covers whatever that
// connection wrote before: a push applied but not yet replicated is not sent
// again while its connection lives, and holds back none after it (a process
// that exits then has sent everything). done tells which pushes enough
// replicas have now and replies their answers (nil: not sent this time); err
// is errNotReplicated when too few have them (all sent are applied on the
// master), a push's own refusal, or why the round failed. WAIT blocks its
// connection: pushAll needs a client of its own, and takes one caller at a time.
func (c *redisClient) pushAll(pushes []*push, maxSent int) (done []bool, replies []*call, err error) {
	c.pushMu.Lock()
	defer c.pushMu.Unlock()
	c.mu.Lock()
	current := c.p
	need := c.quorum.Need()
	c.mu.Unlock()
	var cmds [][]string
	var sent []int // indexes into pushes
	for i, ps := range pushes {
		if (ps.on == nil || ps.on != current) && len(sent) < maxSent {
			cmds = append(cmds, ps.cmd)
			sent = append(sent, i)
		}
	}
	cmds = append(cmds, []string{"ROLE"})
	if need > 0 {
		cmds = append(cmds, []string{"WAIT", strconv.Itoa(need), strconv.FormatInt(int64(c.opts.readTimeout/2/time.Millisecond)+1, 10)})
	}
	calls, on, err := c.doAllOn(cmds)
	if err != nil {
		return nil, nil, err
	}
	var refused error
	replies = make([]*call, len(pushes))
	for i, j := range sent {
		replies[j] = calls[i]
		if calls[i].err == nil {
			pushes[j].on = on
		} else if refused == nil {
			refused = calls[i].err
		}
	}
	role := calls[len(sent)].elems
	if len(role) == 0 || role[0] != "master" { // demoted under a connection that only waited: find the new master
		on.fail(errNotMaster)
		return nil, nil, errNotMaster
	}
	replicas := roleReplicas(role)
	c.mu.Lock()
	c.quorum.Saw(replicas, time.Now())
	c.mu.Unlock()
	replicated := replicas == 0 || need > 0
	if need > 0 && calls[len(sent)+1].n < int64(need) {
		replicated = false
	}
	done = make([]bool, len(pushes))
	for i, ps := range pushes {
		done[i] = replicated && ps.on == on
	}
	switch {
	case refused != nil:
		return done, replies, refused
	case !replicated: // a replica the quorum did not know of, or too few: sent again
		return done, replies, errNotReplicated
	}
	return done, replies, nil
}

// roleReplicas counts the online replicas in ROLE's reply, flattened:
// "master", offset, then host, port, offset per replica.
func roleReplicas(role []string) int {
	if len(role) < 2 || role[0] != "master" {
		return 0
	}
	return (len(role) - 2) / 3
}

// watchReplicas asks the master for its replicas between pushes, with
// Sentinels: an edge that pushed nothing for a while must not take the count
// it sees after a failover for the master's usual one.
func (c *redisClient) watchReplicas() {
	if len(c.opts.sentinels) == 0 {
		return
	}
	cl, err := c.do("ROLE")
	if err != nil || cl.err != nil {
		return
	}
	c.mu.Lock()
	c.quorum.Saw(roleReplicas(cl.elems), time.Now())
	c.mu.Unlock()
}

// readOnly reports whether a reply says the node became a replica.
func readOnly(calls []*call) bool {
	for _, cl := range calls {
		if re, ok := cl.err.(*replyError); ok && strings.Contains(re.msg, "READONLY") {
			return true
		}
	}
	return false
}

// waitAll waits for every call until the deadline; an overdue reply fails the connection.
func waitAll(calls []*call, deadline time.Duration, p *pipe) error {
	t := time.NewTimer(deadline)
	defer t.Stop()
	var first error
	for _, cl := range calls {
		select {
		case <-cl.done:
		case <-t.C:
			p.fail(errStalled)
			<-cl.done // fail completes every call of the connection
		}
		if cl.err != nil && first == nil {
			if _, isReply := cl.err.(*replyError); !isReply {
				first = cl.err
			}
		}
	}
	return first
}

// call is one command in flight; done is closed when its reply arrived.
type call struct {
	val   string
	elems []string // an array's strings, nested arrays flattened
	isNil bool
	n     int64
	err   error
	done  chan struct{}
}

func newCall() *call { return &call{done: make(chan struct{})} }

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
	inflight []*call   // the batch written, awaiting replies in order
	sentAt   time.Time // when the batch in flight was written
	batches  int64     // batches written, for the watchdog
	writing  bool
	dead     bool
}

// dialPipe connects, authenticates and selects the database synchronously,
// then starts the reader.
func dialPipe(o redisOptions, client *redisClient) (*pipe, error) {
	conn, r, err := dialMaster(o, 32<<10, true)
	if err != nil {
		return nil, err
	}
	// One field at a time: Yaegi panicked on a multi-field assignment with a net.Conn.
	p := &pipe{}
	p.conn = conn
	p.r = r
	p.readTimeout = o.readTimeout
	p.client = client
	p.cond = sync.NewCond(&p.mu)
	if len(o.sentinels) > 0 {
		if err := confirmMaster(conn, p.r, o); err != nil {
			conn.Close()
			return nil, err
		}
	}
	go p.readLoop()
	return p, nil
}

// dialMaster connects to the master (through Sentinel if configured) and
// authenticates; with selectDB it also selects the database (pub/sub ignores it).
func dialMaster(o redisOptions, readerSize int, selectDB bool) (net.Conn, *bufio.Reader, error) {
	addr, err := masterAddr(o)
	if err != nil {
		return nil, nil, err
	}
	conn, err := net.DialTimeout("tcp", addr, o.dialTimeout)
	if err != nil {
		return nil, nil, err
	}
	r := bufio.NewReaderSize(conn, readerSize)
	if err := handshake(conn, r, o, selectDB); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, r, nil
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

// watchdog fails a connection whose batch in flight is overdue and writes
// what waits with nothing in flight: the pipe's own deadlines and wake-ups
// should make it idle, but no waiter is left waiting if they did not.
func (c *redisClient) watchdog() {
	c.mu.Lock()
	p := c.p
	c.mu.Unlock()
	if p == nil {
		return
	}
	now := time.Now()
	p.mu.Lock()
	if p.inflight == nil || p != c.watchedPipe || p.batches != c.watchedBatch {
		// Only the watchdog touches these; one field a statement (Yaegi).
		c.watchedPipe = p
		c.watchedBatch = p.batches
		c.watchedSince = now
	} else if now.Sub(c.watchedSince) > c.replyDeadline() {
		p.mu.Unlock()
		p.fail(errStalled)
		return
	}
	if len(p.queued) > 0 && p.inflight == nil && !p.writing && !p.dead {
		p.flushLocked()
		return
	}
	p.mu.Unlock()
}

// send queues the encoded command cmd; the reply arrives in c (c.done closes).
// edge.lookup has an inlined copy of it: keep the two alike.
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
		p.mu.Unlock() // written after the batch in flight
		return
	}
	p.flushLocked()
}

// sendBatch queues the encoded commands cmds, one reply each into calls.
func (p *pipe) sendBatch(calls []*call, cmds []byte) {
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		for _, c := range calls {
			c.err = errClosed
			close(c.done)
		}
		return
	}
	p.wbuf = append(p.wbuf, cmds...)
	p.queued = append(p.queued, calls...)
	if p.writing || p.inflight != nil {
		p.mu.Unlock()
		return
	}
	p.flushLocked()
}

// flushLocked writes queued batches while no batch is in flight; called with
// mu held, returns with it released. The reader may finish a batch while a
// write is under way: the writer then writes what was queued meanwhile, so no
// command waits for another to arrive.
func (p *pipe) flushLocked() {
	for len(p.queued) > 0 && p.inflight == nil && !p.dead {
		buf := p.wbuf
		p.wbuf = p.spare[:0]
		p.inflight = append(p.inflight, p.queued...)
		p.queued = p.queued[:0]
		p.writing = true
		p.batches++
		p.sentAt = time.Now()
		p.cond.Signal()
		p.mu.Unlock()

		_, err := p.conn.Write(buf) // a write that hangs is failed by the watchdog

		p.mu.Lock()
		p.spare = buf
		p.writing = false
		if err != nil {
			p.mu.Unlock()
			p.fail(err)
			return
		}
	}
	p.mu.Unlock()
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
		sent := p.sentAt
		p.mu.Unlock()

		p.conn.SetReadDeadline(time.Now().Add(p.readTimeout))
		for i := 0; i < len(batch); i++ {
			if err := p.readBulkOrReply(batch[i]); err != nil {
				if err == errTooLong { // that call is marked; the others ask again
					err = errClosed
				}
				p.fail(err)
				return
			}
		}
		// Counted into the client's histograms with no interpreted call: inlined
		// copies of link.EdgeRTTBucket and link.EdgeBatchBucket, keep them alike.
		us, n := int64(time.Since(sent)/time.Microsecond), uint64(len(batch))
		rb, bb := 0, bits.Len64(n-1)
		if us > 0 {
			rb = bits.Len64(uint64((us - 1) / 250))
		}
		c := p.client
		c.mu.Lock()
		if rb >= len(c.rtt) {
			rb = len(c.rtt) - 1
		}
		if bb >= len(c.batch) {
			bb = len(c.batch) - 1
		}
		c.rtt[rb]++
		c.rttSum += us
		c.batch[bb]++
		c.batchSum += int64(n)
		c.mu.Unlock()
		p.mu.Lock()
		if p.dead { // closed meanwhile: fail has woken the batch already
			p.mu.Unlock()
			return
		}
		p.inflight = nil
		if len(p.queued) > 0 && !p.writing {
			p.flushLocked()
		} else {
			p.mu.Unlock() // a writer under way writes what is queued when its write returns
		}
		for i := 0; i < len(batch); i++ {
			close(batch[i].done)
		}
	}
}

// fail closes the connection, tells the client, then fails every call in
// flight or queued: a caller that asks again meets a new connection, not this one.
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
	p.client.failed(p, err)
	for _, c := range calls {
		if c.err == nil { // a call the reader marked (errTooLong) keeps its error
			c.err = err
		}
		close(c.done)
	}
}

func (p *pipe) close() { p.fail(errClosed) }
