package plugin

import (
	"bufio"
	"errors"
	"io"
	"strconv"

	"github.com/kurzlink/kurz/link"
)

// RESP2 limits: a reply beyond them is a protocol error and the connection is
// dropped, so a hostile or broken server cannot make the edge allocate much.
const (
	maxBulkBytes   = 1 << 20 // a bulk string (targets are read with GETRANGE, far below this)
	maxArrayLength = 1 << 16
	maxReplyDepth  = 4 // arrays within arrays
)

var (
	// errProtocol means the peer does not speak RESP within our limits: the connection is dropped.
	errProtocol = errors.New("kurz: redis protocol error")
	// errTooLong marks a call whose value was longer than any target: it is
	// not read, and the connection, left mid-reply, is dropped.
	errTooLong = errors.New("kurz: redis value longer than a target")
)

// replyError is an error reply from Redis: the connection itself is fine.
type replyError struct{ msg string }

func (e *replyError) Error() string { return "redis: " + e.msg }

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

// readBulkOrReply reads one reply into c, parsing a bulk string (what a
// lookup answers) inline, since it is read once per lookup. A bulk string
// longer than link.MaxTargetBytes is refused from its length: c gets
// errTooLong and the connection is dropped.
func (p *pipe) readBulkOrReply(c *call) error {
	line, err := p.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(line) < 4 || line[0] != '$' || line[1] == '-' || line[len(line)-2] != '\r' {
		return parseReply(p.r, line, c, 0)
	}
	n := 0
	for j := 1; j < len(line)-2; j++ {
		d := line[j]
		if d < '0' || d > '9' || j > 8 {
			return errProtocol
		}
		n = n*10 + int(d-'0')
	}
	if n > link.MaxTargetBytes {
		c.val = "(" + strconv.Itoa(n) + " bytes)"
		c.err = errTooLong
		return errTooLong
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(p.r, buf); err != nil {
		return err
	}
	if buf[n] != '\r' || buf[n+1] != '\n' {
		return errProtocol
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
	return parseReply(r, line, c, 0)
}

// parseReply parses the reply that starts with line (CRLF included); depth
// counts the arrays it is nested in.
func parseReply(r *bufio.Reader, line []byte, c *call, depth int) error {
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
		if !ok || n > maxBulkBytes {
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
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return errProtocol
		}
		c.val = string(buf[:n])
	case '*':
		n, ok := parseLength(line[1:])
		if !ok || n > maxArrayLength || depth >= maxReplyDepth {
			return errProtocol
		}
		for i := 0; i < n; i++ {
			next, err := r.ReadSlice('\n')
			if err != nil {
				return err
			}
			elem := &call{}
			if err := parseReply(r, next, elem, depth+1); err != nil {
				return err
			}
			if elem.elems != nil {
				c.elems = append(c.elems, elem.elems...)
			} else {
				c.elems = append(c.elems, elem.val)
			}
			if len(c.elems) > maxArrayLength {
				return errProtocol
			}
		}
		c.isNil = n < 0
	default:
		return errProtocol
	}
	return nil
}

// parseLength parses a RESP length, -1 included; a loop is cheaper than a call under Yaegi.
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

// readArray reads an array of bulk strings or integers (a pub/sub push).
func readArray(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 4 || line[0] != '*' || line[len(line)-2] != '\r' {
		return nil, errProtocol
	}
	n, ok := parseLength(line[1 : len(line)-2])
	if !ok || n < 0 || n > 16 {
		return nil, errProtocol
	}
	out := make([]string, n)
	for i := 0; i < n; i++ {
		next, err := r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		c := &call{}
		if err := parseReply(r, next, c, maxReplyDepth); err != nil { // no arrays inside
			return nil, err
		}
		out[i] = c.val
	}
	return out, nil
}
