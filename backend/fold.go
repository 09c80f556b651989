package backend

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kurzlink/kurz/link"
)

// VisitFolder folds the visits stream into Postgres every interval.
type VisitFolder struct {
	stream     VisitStream
	store      VisitStore
	classifier *Classifier
	interval   time.Duration
	logger     *slog.Logger
	// Entries is how many stream entries one fold reads at most.
	Entries int
	// Retention, if set, is how long roll-ups are kept (pruned hourly).
	Retention time.Duration
	// Log, if its retention is set, keeps each visit too (dropped hourly by day).
	Log VisitLogSettings

	mu                sync.Mutex
	folded, malformed int64
}

// NewVisitFolder folds with classifier every interval.
func NewVisitFolder(stream VisitStream, store VisitStore, classifier *Classifier, interval time.Duration, logger *slog.Logger) *VisitFolder {
	return &VisitFolder{stream: stream, store: store, classifier: classifier, interval: interval, logger: logger, Entries: 20}
}

// Folded and Malformed are how many visits this replica folded, and skipped as malformed.
func (f *VisitFolder) Folded() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.folded
}

func (f *VisitFolder) Malformed() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.malformed
}

// Run folds every interval until ctx ends, as long as there is something to fold.
func (f *VisitFolder) Run(ctx context.Context) {
	failures := retryLog{logger: f.logger, what: "folding visits into postgres"}
	var lastPrune time.Time
	every(ctx, f.interval, func() {
		if (f.Retention > 0 || f.Log.Retention > 0) && time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			f.Prune(ctx, lastPrune)
		}
		for ctx.Err() == nil {
			fold, err := f.Fold(ctx)
			if ctx.Err() == nil {
				failures.record(err)
			}
			if err != nil || fold.Entries < f.Entries {
				return
			}
		}
	})
}

// Prune deletes the roll-ups older than Retention and the logged visits
// older than the log's at now; every replica may, it does no harm.
func (f *VisitFolder) Prune(ctx context.Context, now time.Time) {
	if f.Log.Retention > 0 {
		n, err := f.store.DropVisitLog(ctx, now.Add(-f.Log.Retention))
		if err != nil {
			f.logger.Warn("dropping old logged visits failed; retrying in an hour", "err", err)
		} else if n > 0 {
			f.logger.Info("dropped old logged visits", "days", n, "retention", f.Log.Retention.String())
		}
	}
	if f.Retention <= 0 {
		return
	}
	n, err := f.store.PruneVisitStats(ctx, now.Add(-f.Retention).Truncate(time.Hour))
	if err != nil {
		f.logger.Warn("pruning old visit statistics failed; retrying in an hour", "err", err)
	} else if n > 0 {
		f.logger.Info("pruned old visit statistics", "rows", n, "retention", f.Retention.String())
	}
}

// Fold folds the entries after the cursor, then deletes them from the stream.
func (f *VisitFolder) Fold(ctx context.Context) (VisitFold, error) {
	fold, err := f.store.FoldVisits(ctx, func(c VisitCursor) (VisitFold, error) {
		epoch, err := f.stream.VisitsEpoch(ctx)
		if err != nil {
			return VisitFold{}, err
		}
		cursor := c.Last
		if c.Epoch != "" && c.Epoch != epoch { // a new stream: its ids say nothing of the old one's
			cursor = "0-0"
		}
		entries, err := f.stream.ReadVisits(ctx, cursor, f.Entries)
		if err != nil || len(entries) == 0 {
			return VisitFold{}, err
		}
		created, err := f.store.LinksCreated(ctx, visitedCodes(entries))
		if err != nil {
			return VisitFold{}, err
		}
		fold := f.rollup(entries, created, time.Now())
		fold.Epoch = epoch
		return fold, nil
	})
	if err != nil || fold.Last == "" {
		return fold, err
	}
	f.mu.Lock()
	f.folded += fold.Visits
	f.malformed += fold.Malformed
	f.mu.Unlock()
	if fold.Malformed > 0 {
		f.logger.Warn("skipped malformed visits", "visits", fold.Malformed)
	}
	if err := f.stream.TrimVisits(ctx, fold.Last); err != nil {
		f.logger.Warn("trimming folded visits failed; the next fold trims them", "err", err)
	}
	return fold, nil
}

// visitClockSkew is how much earlier than its link's creation a visit may be
// stamped and still count for it: visits carry whole seconds of the clock of
// the edge or backend that served them, links the time of Postgres's.
const visitClockSkew = 2 * time.Second

// visitedCodes are the distinct codes of the entries' visits (each line starts with its code).
func visitedCodes(entries []VisitEntry) []string {
	seen := map[string]bool{}
	var codes []string
	for _, e := range entries {
		for packed := e.Packed; packed != ""; {
			line, rest, _ := strings.Cut(packed, "\n")
			if code, _, _ := strings.Cut(line, "\t"); !seen[code] {
				seen[code] = true
				codes = append(codes, code)
			}
			packed = rest
		}
	}
	return codes
}

// rollup classifies the entries' visits and sums them by code, hour,
// dimension and value, for all links and for the link — if the link that
// holds the code now existed at the visit (created is when each was), so a
// late visit of a deleted link never lands on one that took its alias.
// With the visit log on, each visit inside its retention at now is kept too.
func (f *VisitFolder) rollup(entries []VisitEntry, created map[string]CreatedLink, now time.Time) VisitFold {
	type key struct {
		code, dim, value string
		hour             int64
	}
	// Identical lines (a client's visits of a link in one push) are read and classified once.
	lines := map[string]int64{}
	for _, e := range entries {
		for packed := e.Packed; packed != ""; {
			line, rest, _ := strings.Cut(packed, "\n")
			lines[line]++
			packed = rest
		}
	}
	sums := map[key]int64{}
	fold := VisitFold{Last: entries[len(entries)-1].ID, Entries: len(entries)}
	for line, n := range lines {
		fold.Malformed += n * int64(link.ParseVisits(line, func(v link.Visit) {
			c := f.classifier.Classify(v)
			kind := "human"
			if c.Bot {
				kind = "bot"
			}
			hour := v.At.Truncate(time.Hour).Unix()
			codes := []string{AllLinksCode}
			var linkID *int64
			if l, ok := created[v.Code]; ok && !v.At.Before(l.At.Add(-visitClockSkew)) {
				codes = append(codes, v.Code)
				linkID = &l.ID
			}
			if f.Log.Retention > 0 && v.At.After(now.Add(-f.Log.Retention)) {
				logged := LoggedVisit{LinkID: linkID, Code: v.Code, At: v.At, Referrer: c.Referrer, Browser: c.Browser,
					OS: c.OS, Device: c.Device, Country: c.Country, Bot: c.Bot}
				if f.Log.FullUserAgent {
					logged.UserAgent = v.UserAgent
				}
				for i := int64(0); i < n; i++ {
					fold.Log = append(fold.Log, logged)
				}
			}
			for _, code := range codes {
				sums[key{code, DimKind, kind, hour}] += n
				sums[key{code, DimReferrer, c.Referrer, hour}] += n
				sums[key{code, DimBrowser, c.Browser, hour}] += n
				sums[key{code, DimOS, c.OS, hour}] += n
				sums[key{code, DimDevice, c.Device, hour}] += n
				sums[key{code, DimCountry, c.Country, hour}] += n
			}
			fold.Visits += n
		}))
	}
	sort.SliceStable(fold.Log, func(i, j int) bool { return fold.Log[i].At.Before(fold.Log[j].At) })
	for k, n := range sums {
		fold.Rollups = append(fold.Rollups, VisitRollup{Code: k.code, Hour: time.Unix(k.hour, 0).UTC(), Dim: k.dim, Value: k.value, Visits: n})
	}
	// One order for every writer: concurrent upserts never deadlock.
	sort.Slice(fold.Rollups, func(i, j int) bool {
		a, b := fold.Rollups[i], fold.Rollups[j]
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		if a.Dim != b.Dim {
			return a.Dim < b.Dim
		}
		if !a.Hour.Equal(b.Hour) {
			return a.Hour.Before(b.Hour)
		}
		return a.Value < b.Value
	})
	return fold
}

// VisitRecorder collects the visits a backend redirects and pushes them
