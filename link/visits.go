package link

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// Visit analytics: edges and backends send the raw fields of each visit (a
// GET redirect; HEAD is not a visit) to a Redis stream, a batch per entry;
// backends parse user agents, look up countries and fold hourly roll-ups into
// Postgres, moving a cursor in the same transaction (exactly once).
//
//	visits            stream  entries {n: visits, e: packed visits}, one per
//	                          pushed batch; backends delete what they folded.
//	visits:pushed     zset    the ids of the batches added, as hits:pushed.
//	visits:dropped    string  visits refused because the stream was full.
//	visits:epoch      string  a random id a backend sets when it is missing: a
//	                          new one means the stream was lost and begun again.
const (
	VisitsKey        = "visits"
	VisitsPushedKey  = "visits:pushed"
	VisitsDroppedKey = "visits:dropped"
	VisitsEpochKey   = "visits:epoch"
	// MaxVisitsPerPush bounds the visits of one stream entry.
	MaxVisitsPerPush = 1000
	// VisitsStreamCap bounds the stream's entries: with backends down, Redis
	// holds at most this many batches (about 75 MB of typical visits, 420 MB
	// at the field limits), then counts the visits it refuses in visits:dropped.
	VisitsStreamCap = 500
	// ClientAddrHeader carries the visitor's address from the edge to the
	// backends, which the edge reads from Traefik's view (the last
	// X-Forwarded-For entry, kept only from trusted proxies, else the peer).
	ClientAddrHeader = "X-Kurz-Client"
	// MaxUserAgentBytes and MaxReferrerBytes cut what a visit carries.
	MaxUserAgentBytes = 256
	MaxReferrerBytes  = 512
	MaxAddrBytes      = 64
)

// AddVisitsScript appends one packed batch to the visits stream once per
// batch id, unless the stream is full: then it counts the batch's visits in
// visits:dropped. A key of another type in the stream's place is replaced.
// KEYS: visits, visits:pushed, visits:dropped. ARGV: pushed TTL (ms), the
// batch id, cap, visits in the batch, the packed batch.
// Returns -1 for a batch already added, 0 if dropped, 1 if added.
const AddVisitsScript = claimBatch + `
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'stream' and t ~= 'none' then redis.call('DEL', KEYS[1]) end
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  redis.call('INCRBY', KEYS[3], ARGV[4])
  return 0
end
redis.call('XADD', KEYS[1], '*', 'n', ARGV[4], 'e', ARGV[5])
return 1`

// Visit is one visit as edges and backends send it: nothing is parsed yet.
type Visit struct {
	Code      string    // the link's key: its code, with its domain unless the default (Key)
	At        time.Time // to the second
	Addr      string    // the client's IP address
	Referrer  string
	UserAgent string
}

// AppendVisit packs v onto b as one line: code, unix seconds, address,
// referrer and user agent, tab-separated; tabs and line breaks in the
// header values become spaces, and they are cut to their limits.
// The plugin's collectVisits packs clean values itself in fewer calls: keep the two alike.
func AppendVisit(b []byte, v Visit) []byte {
	b = append(b, v.Code...)
	b = append(b, '\t')
	b = strconv.AppendInt(b, v.At.Unix(), 10)
	b = append(b, '\t')
	b = appendField(b, v.Addr, MaxAddrBytes)
	b = append(b, '\t')
	b = appendField(b, v.Referrer, MaxReferrerBytes)
	b = append(b, '\t')
	b = appendField(b, v.UserAgent, MaxUserAgentBytes)
	return append(b, '\n')
}

func appendField(b []byte, s string, max int) []byte {
	if len(s) > max {
		s = s[:max]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\t' || c == '\n' || c == '\r' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// ParseVisits unpacks a batch; malformed lines are skipped and counted.
func ParseVisits(packed string, visit func(Visit)) (malformed int) {
	for len(packed) > 0 {
		line := packed
		if i := strings.IndexByte(packed, '\n'); i >= 0 {
			line, packed = packed[:i], packed[i+1:]
		} else {
			packed = ""
		}
		f := strings.SplitN(line, "\t", 5)
		if len(f) != 5 || !IsKey(f[0]) {
			malformed++
			continue
		}
		sec, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || sec <= 0 {
			malformed++
			continue
		}
		visit(Visit{Code: f[0], At: time.Unix(sec, 0).UTC(), Addr: f[2], Referrer: f[3], UserAgent: f[4]})
	}
	return malformed
}

// ClientAddr is a visitor's address: the last X-Forwarded-For entry, which
// Traefik keeps only from trusted proxies (forwardedHeaders) and appends to,
// else the peer's. The plugin's collectVisits has an inlined copy: keep the two alike.
func ClientAddr(xff []string, remoteAddr string) string {
	if len(xff) > 0 {
		last := xff[len(xff)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		return strings.TrimSpace(last)
	}
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}
