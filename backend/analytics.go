package backend

import (
	"context"
	"time"
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
	Epoch     string // of the stream Last is in
	Entries   int
	Visits    int64
	Malformed int64
	Rollups   []VisitRollup
	Log       []LoggedVisit // each visit, when the visit log is on
}

// CreatedLink is the link that holds a code now: its id and when it was made.
type CreatedLink struct {
	ID int64
	At time.Time
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
	// VisitsEpoch is the current stream's epoch, made if it is missing.
	VisitsEpoch(ctx context.Context) (string, error)
}

// VisitCursor is where folding stands: the last stream entry folded and the
// epoch of the stream it was in ("" before one was known).
type VisitCursor struct {
	Last, Epoch string
}

// VisitStore is the Postgres side of analytics.
type VisitStore interface {
	// FoldVisits locks the cursor, calls fold with it and, if fold moved it,
	// stores the roll-ups and the new cursor in the same transaction.
	FoldVisits(ctx context.Context, fold func(cursor VisitCursor) (VisitFold, error)) (VisitFold, error)
	// VisitStats sums the roll-ups of code in [from, to).
	VisitStats(ctx context.Context, code string, from, to time.Time, interval time.Duration) (Stats, error)
	// PruneVisitStats deletes the roll-ups of hours before before.
	PruneVisitStats(ctx context.Context, before time.Time) (int64, error)
	// LinksCreated is the link holding each code now; codes without one are left out.
	LinksCreated(ctx context.Context, codes []string) (map[string]CreatedLink, error)
	// ListVisitLog pages the visit log, newest first.
	ListVisitLog(ctx context.Context, q VisitLogQuery) ([]LoggedVisit, string, error)
	// PageVisitLog returns the numbered page q.Page of the visit log, newest first, and how many visits q selects.
	PageVisitLog(ctx context.Context, q VisitLogQuery) ([]LoggedVisit, int64, error)
	// BotVisits sums the bot visits in the roll-ups of each key; keys without any are left out.
	BotVisits(ctx context.Context, keys []string) (map[string]int64, error)
	// DropVisitLog drops the logged visits of the days that ended before before.
	DropVisitLog(ctx context.Context, before time.Time) (int, error)
}
