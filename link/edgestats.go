package link

import (
	"errors"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Edge statistics: each Traefik instance's plugin keeps counters in memory
// and writes them, about once a second, to edge:stats:{instance} with a TTL;
// the backends export every instance's as Prometheus series. Counters are
// cumulative since the instance started; a restarted Traefik is a new instance.
//
//	edge:stats:{instance} string  one line, AppendEdgeStats's format; expires
//	                              EdgeStatsTTL after the last write.
const (
	EdgeStatsKeyPrefix = "edge:stats:"
	EdgeStatsTTL       = 10 * time.Second
	// EdgeStatsEvery is how often an edge writes its statistics.
	EdgeStatsEvery = time.Second
	// MaxEdgeStatsBytes bounds a statistics value a backend reads.
	MaxEdgeStatsBytes = 4 << 10
)

// EdgeRTTBounds are the upper bounds, in microseconds, of the Redis round-trip
// buckets, doubling from 250 µs so that EdgeRTTBucket is one compiled call
// (bits.Len64) under Yaegi; the last bucket counts the rest.
var EdgeRTTBounds = []int64{250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000}

// EdgeBatchBounds are the upper bounds of the pipeline batch-size buckets, powers of two.
var EdgeBatchBounds = []int64{1, 2, 4, 8, 16, 32, 64, 128, 256}

// EdgeRTTBucket is the bucket of a round trip of us microseconds.
// The plugin's pipe.readLoop has an inlined copy of it: keep the two alike.
func EdgeRTTBucket(us int64) int {
	if us <= 0 {
		return 0
	}
	b := bits.Len64(uint64((us - 1) / 250))
	if b > len(EdgeRTTBounds) {
		b = len(EdgeRTTBounds)
	}
	return b
}

// EdgeBatchBucket is the bucket of a batch of n commands.
// The plugin's pipe.readLoop has an inlined copy of it: keep the two alike.
func EdgeBatchBucket(n int64) int {
	if n <= 0 {
		return 0
	}
	b := bits.Len64(uint64(n - 1))
	if b > len(EdgeBatchBounds) {
		b = len(EdgeBatchBounds)
	}
	return b
}

// EdgeStats is one edge instance's counters.
type EdgeStats struct {
	At             time.Time // when written, to the millisecond
	HotAnswers     int64     // redirects answered from the hot cache
	RedisAnswers   int64     // redirects answered from Redis
	PassedMiss     int64     // code-shaped GET/HEAD that Redis did not have
	PassedError    int64     // passed on for a Redis error, a timeout or an open breaker
	PassedUnsafe   int64     // passed on for an unsafe value in Redis
	PassedDraining int64     // passed on while the edge drains (SIGTERM)
	NotFound       int64     // 404s answered at the edge for codes no link can have
	Retries        int64     // GET/HEAD sent to another backend after a 502/504
	RedisErrors    int64     // connections failed, timeouts included
	RedisTimeouts  int64     // replies overdue
	BreakerOpen    bool      // lookups pass on at once now
	BreakerOpens   int64     // times the breaker opened
	MasterChanges  int64     // times a new connection found another master (a Sentinel failover)
	RTT            []int64   // Redis round trips by EdgeRTTBounds (len+1 buckets)
	RTTSumMicros   int64
	Batch          []int64 // pipeline batch sizes by EdgeBatchBounds (len+1 buckets)
	BatchSum       int64
	VisitsDropped  int64 // visits not recorded: buffer full or stream full
	HotEntries     int64 // entries in the hot cache now
	HotEvictions   int64
}

// EdgeStatsKey is the Redis key of instance's statistics.
func EdgeStatsKey(instance string) string { return EdgeStatsKeyPrefix + instance }

// AppendEdgeStats appends s as one line of space-separated name=value fields.
func AppendEdgeStats(b []byte, s EdgeStats) []byte {
	b = append(b, "v1 at="...)
	b = strconv.AppendInt(b, s.At.UnixMilli(), 10)
	breaker := int64(0)
	if s.BreakerOpen {
		breaker = 1
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"hot", s.HotAnswers}, {"redis", s.RedisAnswers}, {"miss", s.PassedMiss}, {"error", s.PassedError},
		{"unsafe", s.PassedUnsafe}, {"draining", s.PassedDraining}, {"notfound", s.NotFound}, {"retries", s.Retries},
		{"rerrors", s.RedisErrors}, {"rtimeouts", s.RedisTimeouts}, {"breaker", breaker}, {"opens", s.BreakerOpens}, {"masters", s.MasterChanges},
		{"rttsum", s.RTTSumMicros}, {"batchsum", s.BatchSum}, {"vdropped", s.VisitsDropped},
		{"entries", s.HotEntries}, {"evictions", s.HotEvictions},
	} {
		b = append(b, ' ')
		b = append(b, f.name...)
		b = append(b, '=')
		b = strconv.AppendInt(b, f.v, 10)
	}
	b = appendBuckets(b, " rtt=", s.RTT, len(EdgeRTTBounds)+1)
	b = appendBuckets(b, " batch=", s.Batch, len(EdgeBatchBounds)+1)
	return b
}

func appendBuckets(b []byte, prefix string, counts []int64, n int) []byte {
	b = append(b, prefix...)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		var v int64
		if i < len(counts) {
			v = counts[i]
		}
		b = strconv.AppendInt(b, v, 10)
	}
	return b
}

// ErrEdgeStats is a statistics value that is not AppendEdgeStats's.
var ErrEdgeStats = errors.New("link: malformed edge statistics")

// ParseEdgeStats reads what AppendEdgeStats wrote. It comes from Redis, so
// it is checked: every field known, every number a non-negative integer,
// every histogram whole; unknown fields (a newer edge's) are skipped.
func ParseEdgeStats(v string) (EdgeStats, error) {
	var s EdgeStats
	if len(v) > MaxEdgeStatsBytes || !strings.HasPrefix(v, "v1 ") {
		return s, ErrEdgeStats
	}
	dst := map[string]*int64{
		"hot": &s.HotAnswers, "redis": &s.RedisAnswers, "miss": &s.PassedMiss, "error": &s.PassedError,
		"unsafe": &s.PassedUnsafe, "draining": &s.PassedDraining, "notfound": &s.NotFound, "retries": &s.Retries,
		"rerrors": &s.RedisErrors, "rtimeouts": &s.RedisTimeouts, "opens": &s.BreakerOpens, "masters": &s.MasterChanges,
		"rttsum": &s.RTTSumMicros, "batchsum": &s.BatchSum, "vdropped": &s.VisitsDropped,
		"entries": &s.HotEntries, "evictions": &s.HotEvictions,
	}
	buckets := map[string]*[]int64{"rtt": &s.RTT, "batch": &s.Batch}
	sizes := map[string]int{"rtt": len(EdgeRTTBounds) + 1, "batch": len(EdgeBatchBounds) + 1}
	seen := map[string]bool{}
	for _, field := range strings.Fields(v[3:]) {
		name, value, ok := strings.Cut(field, "=")
		if !ok || seen[name] {
			return s, ErrEdgeStats
		}
		if b := buckets[name]; b != nil {
			counts, err := parseBuckets(value, sizes[name])
			if err != nil {
				return s, err
			}
			*b = counts
			seen[name] = true
			continue
		}
		if name != "at" && name != "breaker" && dst[name] == nil {
			continue // a newer edge's field
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 || (name == "breaker" && n > 1) {
			return s, ErrEdgeStats
		}
		switch name {
		case "at":
			s.At = time.UnixMilli(n)
		case "breaker":
			s.BreakerOpen = n == 1
		default:
			*dst[name] = n
		}
		seen[name] = true
	}
	if len(seen) != len(dst)+len(buckets)+2 { // every field of version 1: the counters, histograms, at and breaker
		return s, ErrEdgeStats
	}
	return s, nil
}

func parseBuckets(v string, n int) ([]int64, error) {
	parts := strings.Split(v, ",")
	if len(parts) != n {
		return nil, ErrEdgeStats
	}
	out := make([]int64, n)
	for i, p := range parts {
		c, err := strconv.ParseInt(p, 10, 64)
		if err != nil || c < 0 {
			return nil, ErrEdgeStats
		}
		out[i] = c
	}
	return out, nil
}
