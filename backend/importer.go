package backend

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kurzlink/kurz/link"
)

// An import brings the links of another shortener in (kurz import): each
// record is checked by kurz's own rules, kept with its code where the code
// fits them, and remembered by its source and key there, so that importing
// the same export again — or after a kill — changes nothing.

// ImportRecord is one link as another shortener's export has it.
type ImportRecord struct {
	Line       int    // where the reader found it (a CSV line, the n-th item of JSON), for the report
	Code       string // its code there; "": none (a new code is made)
	Domain     string // its short domain there; "": the default
	URL        string
	Title      string
	Tags       []string
	CreatedAt  *time.Time // nil: now
	ValidSince *time.Time
	ExpiresAt  *time.Time
	MaxVisits  *int64
	Visits     int64 // its visits there, carried over as its count
	Err        error // what the reader could not read of it: skipped, with this reason
}

// importKey names the record at its source: its domain and code, else its URL.
func (r ImportRecord) importKey() string {
	if r.Code != "" {
		return link.Key(strings.ToLower(r.Domain), r.Code)
	}
	return "url:" + r.URL
}

// ImportedLink is a link to import and its key at the source.
type ImportedLink struct {
	Link
	SourceKey string // names it at its source (ImportRecord.importKey)
	IsAlias   bool   // its code is its own, not one made from its id
}

// ImportOutcome is what became of an imported link.
type ImportOutcome int

const (
	Imported        ImportOutcome = iota
	AlreadyImported               // by an earlier run, or an earlier row of the same key
	CodeTaken                     // another link has its code
)

// ImportStore is where imported links go (Postgres).
type ImportStore interface {
	NextIDs(ctx context.Context, n int) ([]int64, error)
	// ImportLinks inserts links in one transaction, each once per source and
	// key, and lists the aliases among them; one outcome per link.
	ImportLinks(ctx context.Context, source string, links []ImportedLink) ([]ImportOutcome, error)
}

// ImportCache tells the edges and backends about imported codes (Redis). Its
// failures only delay them: the backends list Postgres's aliases in Redis by themselves.
type ImportCache interface {
	AddAliases(ctx context.Context, codes []string) error
	RaiseIssued(ctx context.Context, fingerprint string, id int64, create bool) (missing bool, err error)
}

// importAttempts bounds the tries of one batch while the database is unavailable.
const importAttempts = 5

// ImportSummary is what an import did.
type ImportSummary struct {
	Read, Imported, Already, NewCodes int
	Skipped                           map[string][]int // reason → the lines skipped for it
}

// SkippedCount is how many records were skipped, for any reason.
func (s ImportSummary) SkippedCount() int {
	n := 0
	for _, lines := range s.Skipped {
		n += len(lines)
	}
	return n
}

// Importer imports records into kurz.
type Importer struct {
	Store    ImportStore
	Cache    ImportCache // nil: the backends list the aliases in Redis within a second or two
	Codec    *link.Codec
	Policy   URLPolicy
	Domains  Domains
	Logger   *slog.Logger
	Batch    int                 // records per transaction; 0: 1,000
	NewCodes bool                // a record whose code is taken gets a new one instead of being skipped
	Domain   *string             // every link goes to this domain (as stored); nil: its own if served, else the default
	Progress func(ImportSummary) // called after each batch
	// RetryPause grows the pause between tries of a batch while the database is away: 1×, 2×, …; 0: a second.
	RetryPause time.Duration
}

// Run imports the records of source and says what it did; an error stops it
// (what was committed stays, and a second run goes on from there).
func (im *Importer) Run(ctx context.Context, source string, records iter.Seq[ImportRecord]) (ImportSummary, error) {
	if !link.IsAlias(source) {
		return ImportSummary{}, Errorf(EINVALID, "the source must be a name such as shlink or yourls, not %q", source)
	}
	size := im.Batch
	if size <= 0 {
		size = 1000
	}
	sum := ImportSummary{Skipped: map[string][]int{}}
	var batch []ImportRecord
	for r := range records {
		sum.Read++
		batch = append(batch, r)
		if len(batch) == size {
			if err := im.importBatch(ctx, source, batch, &sum); err != nil {
				return sum, err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if err := im.importBatch(ctx, source, batch, &sum); err != nil {
			return sum, err
		}
	}
	if sum.Imported > 0 && im.Cache != nil {
		// An edge refreshes its view of the code space within this, or stops
		// answering unknown codes itself: no imported code is 404 at the edge
		// once the import says it is done (as a create waits, Shortener.insert).
		time.Sleep(link.IssuedFreshFor)
	}
	return sum, nil
}

func (im *Importer) importBatch(ctx context.Context, source string, records []ImportRecord, sum *ImportSummary) error {
	var links []ImportedLink
	var lines []int
	for _, r := range records {
		l, err := im.linkOf(r)
		if err != nil {
			reason := ErrorMessage(err)
			sum.Skipped[reason] = append(sum.Skipped[reason], r.Line)
			continue
		}
		links, lines = append(links, l), append(lines, r.Line)
	}
	outcomes, err := im.insert(ctx, source, links)
	if err != nil {
		return err
	}
	var retry []ImportedLink
	for i, o := range outcomes {
		switch o {
		case Imported:
			sum.Imported++
			if !links[i].IsAlias {
				sum.NewCodes++
			}
		case AlreadyImported:
			sum.Already++
		case CodeTaken:
			if im.NewCodes {
				l := links[i]
				l.Code, l.IsAlias = "", false
				retry = append(retry, l)
				continue
			}
			reason := "the code is taken by another link (--new-codes gives such links new codes)"
			sum.Skipped[reason] = append(sum.Skipped[reason], lines[i])
		}
	}
	if len(retry) > 0 {
		again, err := im.insert(ctx, source, retry)
		if err != nil {
			return err
		}
		for _, o := range again {
			if o == Imported {
				sum.Imported++
				sum.NewCodes++
			} else {
				sum.Already++
			}
		}
	}
	if im.Progress != nil {
		im.Progress(*sum)
	}
	return nil
}

// insert gives the links without a code one made from their id, stores
// them, and lists their aliases and ids in Redis for the edges.
func (im *Importer) insert(ctx context.Context, source string, links []ImportedLink) ([]ImportOutcome, error) {
	if len(links) == 0 {
		return nil, nil
	}
	ids, err := im.Store.NextIDs(ctx, len(links))
	if err != nil {
		return nil, err
	}
	for i := range links {
		links[i].ID = ids[i]
		if !links[i].IsAlias {
			if links[i].Code, err = im.Codec.Encode(ids[i]); err != nil {
				return nil, Wrap(EINTERNAL, err, "making a code failed")
			}
		}
	}
	outcomes, err := im.Store.ImportLinks(ctx, source, links)
	for attempt := 1; ErrorCode(err) == EUNAVAILABLE && attempt < importAttempts && ctx.Err() == nil; attempt++ {
		// A batch is idempotent (by source and key): a busy or restarting database is waited for.
		im.Logger.Warn("importing a batch failed; trying again", "attempt", attempt, "err", err)
		pause := im.RetryPause
		if pause == 0 {
			pause = time.Second
		}
		time.Sleep(time.Duration(attempt) * pause)
		outcomes, err = im.Store.ImportLinks(ctx, source, links)
	}
	if err != nil || im.Cache == nil {
		return outcomes, err
	}
	var aliases []string
	for i, l := range links {
		if outcomes[i] == Imported && l.IsAlias {
			aliases = append(aliases, l.Key())
		}
	}
	if len(aliases) > 0 {
		if err := im.Cache.AddAliases(ctx, aliases); err != nil {
			im.Logger.Warn("listing imported aliases in redis failed; the backends list them within seconds", "err", err)
		}
	}
	if _, err := im.Cache.RaiseIssued(ctx, im.Codec.Fingerprint(), slices.Max(ids), false); err != nil {
		im.Logger.Warn("raising codes:issued failed; the backends raise it within a second", "err", err)
	}
	return outcomes, nil
}

// linkOf checks a record by kurz's rules and makes its link.
func (im *Importer) linkOf(r ImportRecord) (ImportedLink, error) {
	if r.Err != nil {
		return ImportedLink{}, Errorf(EINVALID, "unreadable: %v", r.Err)
	}
	normalized, err := im.Policy.Normalize(r.URL)
	if err != nil {
		return ImportedLink{}, Errorf(EINVALIDURL, "target refused: %s", ErrorMessage(err))
	}
	meta, err := Meta{Tags: r.Tags, Title: r.Title, ValidSince: r.ValidSince}.normalized()
	if err != nil {
		return ImportedLink{}, Errorf(EINVALIDFIELD, "%s", ErrorMessage(err))
	}
	if r.MaxVisits != nil && *r.MaxVisits < 1 {
		return ImportedLink{}, Errorf(EINVALIDFIELD, "a visit limit must be positive")
	}
	if r.Visits < 0 {
		return ImportedLink{}, Errorf(EINVALIDFIELD, "a visit count cannot be negative")
	}
	domain := ""
	switch {
	case im.Domain != nil:
		domain = *im.Domain
	case r.Domain != "":
		if d, err := im.Domains.Param(r.Domain); err == nil {
			domain = d
		}
	}
	created := time.Now()
	if r.CreatedAt != nil {
		created = *r.CreatedAt
	}
	l := ImportedLink{SourceKey: r.importKey(), Link: Link{Domain: domain, URL: normalized, URLHash: HashURL(domain, normalized), CreatedAt: created,
		AccessCount: r.Visits, ExpiresAt: r.ExpiresAt, MaxVisits: r.MaxVisits, Meta: meta}}
	if err := l.CheckWindow(); err != nil {
		return ImportedLink{}, err
	}
	if r.Code != "" && ValidateAlias(r.Code) == nil {
		l.Code, l.IsAlias = r.Code, true
	}
	return l, nil
}

// String writes the summary as the CLI prints it.
func (s ImportSummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "read %d, imported %d (%d with a new code), already there %d, skipped %d\n", s.Read, s.Imported, s.NewCodes, s.Already, s.SkippedCount())
	reasons := make([]string, 0, len(s.Skipped))
	for r := range s.Skipped {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		lines := s.Skipped[r]
		shown := fmt.Sprint(lines[:min(len(lines), 10)])
		if len(lines) > 10 {
			shown = strings.TrimSuffix(shown, "]") + " …]"
		}
		fmt.Fprintf(&b, "  skipped %d: %s (at %s)\n", len(lines), r, strings.Trim(shown, "[]"))
	}
	return b.String()
}
