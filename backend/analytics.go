package backend

import (
	"context"
	"log/slog"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mssola/useragent"
	"github.com/x-way/crawlerdetect"

	"github.com/kurzlink/kurz/link"
)

// Visit analytics. Edges and backends push raw visits to the visits stream
// (link.AddVisitsScript); a VisitFolder classifies them (bot or human,
// browser, operating system, device, referrer host, country) and adds hourly
// roll-ups to Postgres in the transaction that moves the stream cursor, so a
// batch is folded exactly once whoever folds it and whenever it dies.
// Nothing identifying is stored: no address, no user agent, referrers as
// hosts unless full referrers are asked for.

// Stat dimensions: every visit adds one to a value of each.
const (
	DimKind     = "kind" // human or bot
	DimReferrer = "referrer"
	DimBrowser  = "browser"
	DimOS       = "os"
	DimDevice   = "device" // desktop, mobile, tablet or bot
	DimCountry  = "country"
)

// AllLinksCode is the code of the roll-ups over every link (no code has a '*').
const AllLinksCode = "*"

// StatDims lists the dimensions in the order the API shows them.
var StatDims = []string{DimKind, DimReferrer, DimBrowser, DimOS, DimDevice, DimCountry}

// VisitRollup is the visits of one code, hour, dimension and value.
type VisitRollup struct {
	Code   string
	Hour   time.Time
	Dim    string
	Value  string
	Visits int64
}

// VisitEntry is one batch of the visits stream.
type VisitEntry struct {
	ID     string
	Packed string
}

// VisitFold is what one fold adds: the roll-ups, and the stream entry the
// cursor moves to ("" when there was nothing to fold).
type VisitFold struct {
	Last      string
	Entries   int
	Visits    int64
	Malformed int64
	Rollups   []VisitRollup
}

// VisitStream is the Redis side of analytics.
type VisitStream interface {
	// PushVisits adds a packed batch of n visits once per batch id.
	PushVisits(ctx context.Context, batchID string, n int, packed []byte) error
	// ReadVisits returns up to count entries after the entry id after.
	ReadVisits(ctx context.Context, after string, count int) ([]VisitEntry, error)
	// TrimVisits deletes the entries up to and including through.
	TrimVisits(ctx context.Context, through string) error
	// DroppedVisits is how many visits a full stream refused.
	DroppedVisits(ctx context.Context) (int64, error)
}

// VisitStore is the Postgres side of analytics.
type VisitStore interface {
	// FoldVisits locks the cursor, calls fold with it and, if fold moved it,
	// stores the roll-ups and the new cursor in the same transaction.
	FoldVisits(ctx context.Context, fold func(cursor string) (VisitFold, error)) (VisitFold, error)
	// VisitStats sums the roll-ups of code in [from, to).
	VisitStats(ctx context.Context, code string, from, to time.Time, interval time.Duration) (Stats, error)
	// PruneVisitStats deletes the roll-ups of hours before before.
	PruneVisitStats(ctx context.Context, before time.Time) (int64, error)
}

// StatsQuery is a stats request: [From, To) by Interval (an hour or a day).
type StatsQuery struct {
	From, To time.Time
	Interval time.Duration
}

// MaxStatsBuckets bounds a series.
const MaxStatsBuckets = 24 * 400

// Validate fills defaults (the last 7 days by day) and checks the range.
func (q *StatsQuery) Validate(now time.Time) error {
	if q.Interval == 0 {
		q.Interval = 24 * time.Hour
	}
	if q.Interval != time.Hour && q.Interval != 24*time.Hour {
		return Errorf(EINVALID, "interval must be hour or day")
	}
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-7 * 24 * time.Hour)
	}
	q.From, q.To = q.From.UTC().Truncate(q.Interval), q.To.UTC().Truncate(q.Interval).Add(q.Interval)
	if !q.From.Before(q.To) {
		return Errorf(EINVALID, "from must be before to")
	}
	if q.To.Sub(q.From)/q.Interval > MaxStatsBuckets {
		return Errorf(EINVALID, "at most %d buckets: use interval=day for long ranges", MaxStatsBuckets)
	}
	return nil
}

// Stats is the visits of a link (or all links) over a range.
type Stats struct {
	Code     string        `json:"code,omitempty"`
	From     time.Time     `json:"from"`
	To       time.Time     `json:"to"`
	Interval string        `json:"interval"`
	Total    int64         `json:"total"`
	Humans   int64         `json:"humans"`
	Bots     int64         `json:"bots"`
	Series   []StatsBucket `json:"series"`
	Top      StatsTop      `json:"top"`
}

// StatsBucket is one interval of the series.
type StatsBucket struct {
	Start  time.Time `json:"start"`
	Humans int64     `json:"humans"`
	Bots   int64     `json:"bots"`
}

// StatsTop holds the top values of each dimension, most visits first.
type StatsTop struct {
	Referrers []StatsCount `json:"referrers"`
	Browsers  []StatsCount `json:"browsers"`
	OS        []StatsCount `json:"os"`
	Devices   []StatsCount `json:"devices"`
	Countries []StatsCount `json:"countries"`
}

// StatsCount is a value and its visits.
type StatsCount struct {
	Value  string `json:"value"`
	Visits int64  `json:"visits"`
}

// MaxTopValues bounds each top list.
const MaxTopValues = 10

// Classification is what a visit is counted as.
type Classification struct {
	Bot                 bool
	Browser, OS, Device string
	Referrer, Country   string
}

// GeoIP finds the ISO country code of an address ("" if unknown).
type GeoIP interface {
	Country(addr netip.Addr) string
}

// Classifier turns raw visits into their dimensions, remembering the
// parse of recent user agents (few distinct ones make most traffic).
type Classifier struct {
	Geo          GeoIP // nil: every country is "unknown"
	FullReferrer bool  // keep the referrer's URL, not only its host

	agents    memo[agent]
	referrers memo[string]
	countries memo[string]
}

type agent struct {
	bot                 bool
	browser, os, device string
}

// maxRemembered bounds each cache of the classifier (agents, referrers, addresses).
const maxRemembered = 50000

// Classify returns the dimensions of v.
func (c *Classifier) Classify(v link.Visit) Classification {
	a := c.agents.get(v.UserAgent, parseAgent)
	return Classification{Bot: a.bot, Browser: a.browser, OS: a.os, Device: a.device,
		Referrer: c.referrers.get(v.Referrer, c.referrer),
		Country:  c.countries.get(v.Addr, c.country)}
}

func (c *Classifier) country(addr string) string {
	if c.Geo != nil {
		if ip, err := netip.ParseAddr(addr); err == nil {
			if cc := c.Geo.Country(ip.Unmap()); cc != "" {
				return cc
			}
		}
	}
	return "unknown"
}

// memo remembers f's results for at most maxRemembered keys, then starts over.
type memo[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

func (m *memo[V]) get(key string, f func(string) V) V {
	m.mu.Lock()
	v, ok := m.m[key]
	m.mu.Unlock()
	if ok {
		return v
	}
	v = f(key)
	m.mu.Lock()
	if m.m == nil || len(m.m) >= maxRemembered {
		m.m = map[string]V{}
	}
	m.m[key] = v
	m.mu.Unlock()
	return v
}

// parseAgent flags crawlers and link-preview fetchers with crawlerdetect's
// maintained list (and an empty user agent: no browser sends none), and
// names browser, system and device with useragent.
func parseAgent(s string) agent {
	ua := useragent.New(s)
	browser, _ := ua.Browser()
	a := agent{browser: orUnknown(browser), os: orUnknown(ua.OSInfo().Name)}
	switch {
	case strings.TrimSpace(s) == "" || ua.Bot() || crawlerdetect.IsCrawler(s):
		a.bot, a.device = true, "bot"
		if strings.ContainsAny(a.browser, ":/") || a.browser == "unknown" { // a bot's name, not a URL
			a.browser = "unknown"
			if name := strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == ' ' || r == ';' }); len(name) > 0 {
				a.browser = name[0]
			}
		}
	case strings.Contains(s, "iPad") || strings.Contains(s, "Tablet") || (strings.Contains(s, "Android") && !strings.Contains(s, "Mobile")):
		a.device = "tablet"
		if strings.Contains(s, "iPad") {
			a.os = "iPadOS"
		}
	case ua.Mobile():
		a.device = "mobile"
	default:
		a.device = "desktop"
	}
	return a
}

func orUnknown(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return "unknown"
	}
	return s
}

// referrer is the referrer's host (or URL, with FullReferrer), "direct" without one.
func (c *Classifier) referrer(ref string) string {
	if ref == "" {
		return "direct"
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return "unknown"
	}
	if c.FullReferrer {
		u.User, u.Fragment = nil, ""
		return u.String()
	}
	return strings.ToLower(u.Hostname())
}

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
		if f.Retention > 0 && time.Since(lastPrune) > time.Hour {
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

// Prune deletes the roll-ups older than Retention at now; every replica may, it does no harm.
func (f *VisitFolder) Prune(ctx context.Context, now time.Time) {
	n, err := f.store.PruneVisitStats(ctx, now.Add(-f.Retention).Truncate(time.Hour))
	if err != nil {
		f.logger.Warn("pruning old visit statistics failed; retrying in an hour", "err", err)
	} else if n > 0 {
		f.logger.Info("pruned old visit statistics", "rows", n, "retention", f.Retention.String())
	}
}

// Fold folds the entries after the cursor, then deletes them from the stream.
func (f *VisitFolder) Fold(ctx context.Context) (VisitFold, error) {
	fold, err := f.store.FoldVisits(ctx, func(cursor string) (VisitFold, error) {
		entries, err := f.stream.ReadVisits(ctx, cursor, f.Entries)
		if err != nil || len(entries) == 0 {
			return VisitFold{}, err
		}
		return f.rollup(entries), nil
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

// rollup classifies the entries' visits and sums them by code, hour,
// dimension and value, for the link and for all links.
func (f *VisitFolder) rollup(entries []VisitEntry) VisitFold {
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
			for _, code := range []string{v.Code, AllLinksCode} {
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
