package plugin

import (
	"bufio"
	"net"
	"time"

	"github.com/kurzlink/kurz/link"
)

// subscribe keeps a subscription to link.InvalidateChannel open and drops
// each announced code from the hot cache, so a changed or deleted link stops
// being served at once; it runs for the life of the process.
// It logs when the subscription is lost or cannot be made, once until it is back.
func (e *edge) subscribe() {
	quiet := false
	for {
		subscribed, err := e.subscribeOnce()
		if subscribed {
			quiet = false
		}
		if !quiet {
			logger.Printf("invalidation subscription: %v; hot-cache entries live at most their TTL until it is back", err)
			quiet = true
		}
		time.Sleep(e.redis.opts.cooldown)
	}
}

// subscribeOnce subscribes and drops announced codes until the connection fails.
func (e *edge) subscribeOnce() (subscribed bool, err error) {
	o := e.redis.opts
	conn, err := net.DialTimeout("tcp", o.addr, o.dialTimeout)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	if err := handshake(conn, r, o, false); err != nil {
		return false, err
	}
	if _, err := conn.Write(appendCommand(nil, "SUBSCRIBE", link.InvalidateChannel)); err != nil {
		return false, err
	}
	conn.SetReadDeadline(time.Now().Add(o.dialTimeout + o.readTimeout))
	if _, err := readArray(r); err != nil { // the subscribe confirmation
		return false, err
	}
	conn.SetReadDeadline(time.Time{})
	e.hot.clear() // whatever changed while unsubscribed
	for {
		msg, err := readArray(r)
		if err != nil {
			return true, err
		}
		if len(msg) == 3 && msg[0] == "message" {
			e.hot.drop(msg[2])
		}
	}
}

// readArray reads an array of bulk strings or integers (a pub/sub push).
func readArray(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 4 || line[0] != '*' {
		return nil, errProtocol
	}
	n, ok := parseLength(line[1 : len(line)-2])
	if !ok || n < 0 || n > 16 {
		return nil, errProtocol
	}
	out := make([]string, n)
	for i := 0; i < n; i++ {
		c := &call{}
		if err := readReply(r, c); err != nil {
			return nil, err
		}
		out[i] = c.val
	}
	return out, nil
}
