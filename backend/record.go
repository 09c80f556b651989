package backend

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/kurzlink/kurz/link"
)

// every interval, a batch id at a time, like HitCounter does counts.
type VisitRecorder struct {
	stream   VisitStream
	interval time.Duration
	logger   *slog.Logger
	owner    string

	mu      sync.Mutex
	packed  []byte
	n       int
	batches int64
	unacked *visitBatch
	dropped int64
}

type visitBatch struct {
	id     string
	n      int
	packed []byte
}

// maxRecordedVisits bounds what waits for Redis; more are dropped.
const maxRecordedVisits = 100000

func NewVisitRecorder(stream VisitStream, interval time.Duration, logger *slog.Logger) *VisitRecorder {
	return &VisitRecorder{stream: stream, interval: interval, logger: logger, owner: newInstanceID()}
}

// Record notes a visit; nil-safe (analytics off).
func (r *VisitRecorder) Record(v link.Visit) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n >= maxRecordedVisits {
		r.dropped++
		return
	}
	r.packed = link.AppendVisit(r.packed, v)
	r.n++
}

// Run pushes every interval until ctx ends, then once more.
func (r *VisitRecorder) Run(ctx context.Context) {
	failures := retryLog{logger: r.logger, what: "pushing visits to redis"}
	every(ctx, r.interval, func() { failures.record(r.Push(ctx)) })
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if err := r.Push(stop); err != nil {
		r.logger.Warn("last push of visits failed", "err", err)
	}
}

// Push sends the waiting visits, a batch of link.MaxVisitsPerPush at a time.
func (r *VisitRecorder) Push(ctx context.Context) error {
	for {
		b := r.next()
		if b == nil {
			return nil
		}
		if err := r.stream.PushVisits(ctx, b.id, b.n, b.packed); err != nil {
			return err
		}
		r.mu.Lock()
		r.unacked = nil
		r.mu.Unlock()
	}
}

func (r *VisitRecorder) next() *visitBatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unacked != nil {
		return r.unacked
	}
	if r.n == 0 {
		return nil
	}
	// Cut after the MaxVisitsPerPush-th line.
	cut, lines := len(r.packed), 0
	for i, c := range r.packed {
		if c == '\n' {
			lines++
			if lines == link.MaxVisitsPerPush {
				cut = i + 1
				break
			}
		}
	}
	r.batches++
	b := &visitBatch{id: r.owner + "-v" + strconv.FormatInt(r.batches, 10), n: lines, packed: append([]byte(nil), r.packed[:cut]...)}
	r.packed = append(r.packed[:0], r.packed[cut:]...)
	r.n -= lines
	r.unacked = b
	return b
}
