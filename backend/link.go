// Package backend holds kurz's domain: links, codes, URL rules, errors and the
// small interfaces its adapters (postgres, redis, http) implement or use.
package backend

import (
	"context"
	"time"

	"github.com/kurzlink/kurz/link"
)

// Link is a short code and the URL it redirects to.
type Link struct {
	ID          int64  // sequence id (a generated code is derived from it)
	Domain      string // its short domain; "": the default (Domains)
	Code        string // generated, or an alias; unique on its domain
	URL         string // normalized target
	URLHash     []byte // SHA-256 of URL, the dedup key
	Dedup       bool   // a plain link: one code per URL
	CreatedAt   time.Time
	UpdatedAt   time.Time
	AccessCount int64
	ExpiresAt   *time.Time // nil: never
	MaxVisits   *int64     // nil: unlimited
	Redirect    int        // 301, 302, 307 or 308; 0: the configured default
	Version     int64      // changes with every update; cache fills carry it
	OwnerKeyID  *int64     // the key it was created with; nil: anonymous
	Disabled    bool       // switched off by an operator: answers 410
	Meta
}

// Key names l in Redis, the hits, the visits and invalidations (link.Key).
func (l Link) Key() string { return link.Key(l.Domain, l.Code) }

// Invalidation removes a changed or deleted link from the caches: the code's
// entry, the dedup entry of its old URL (URLHash, nil if none), and any fill
// older than Version. It is stored with the change and deleted once done.
type Invalidation struct {
	ID       int64
	Code     string // the link's key (link.Key)
	URLHash  []byte
	Version  int64
	Announce bool // Code is a new alias: listed (for the edge if of link.CodeLength characters)
}

// Expired reports whether l has expired at now.
func (l Link) Expired(now time.Time) bool { return l.ExpiresAt != nil && !now.Before(*l.ExpiresAt) }

// Gone is EGONE, saying why, when l no longer redirects at now: disabled,
// expired, or out of visits; nil while it does.
func (l Link) Gone(now time.Time) error {
	switch {
	case l.Disabled:
		return Errorf(EGONE, "this link has been disabled")
	case l.Expired(now):
		return Errorf(EGONE, "this link has expired")
	case l.MaxVisits != nil && l.AccessCount >= *l.MaxVisits:
		return Errorf(EGONE, "this link has reached its visit limit")
	}
	return nil
}

// CreateRequest is what POST /api/shorten may ask for.
type CreateRequest struct {
	URL       string
	Domain    string // as stored: "" for the default (Domains.Param)
	Alias     string
	ExpiresAt *time.Time
	MaxVisits *int64
	Redirect  int
	Owner     *int64 // the key creating it; nil: anonymous
	Reuse     Reuse  // when an existing link answers instead of a new one
	Meta
}

// Reuse says when a create gives an existing link instead of a new one.
type Reuse int

const (
	ReusePlain    Reuse = iota // kurz's: a plain URL gives its plain link
	ReuseNone                  // always a new link (Shlink's findIfExists false)
	ReuseMatching              // a link of the same URL and options, if any (Shlink's findIfExists true)
)

// Plain reports whether only a URL was asked for: such links are deduplicated.
func (r CreateRequest) Plain() bool {
	return r.Reuse != ReuseNone && r.Alias == "" && r.ExpiresAt == nil && r.MaxVisits == nil && r.Redirect == 0 &&
		len(r.Tags) == 0 && r.Title == "" && r.ValidSince == nil && !r.Crawlable && !r.ForwardQuery
}

// LinkPatch changes some fields of a link; a Set flag tells a field is present
// (so that null can clear ExpiresAt or MaxVisits).
type LinkPatch struct {
	URL           *string
	SetExpiresAt  bool
	ExpiresAt     *time.Time
	SetMaxVisits  bool
	MaxVisits     *int64
	Redirect      *int
	Disabled      *bool
	Tags          *[]string // replaces every tag; an empty list removes them
	Title         *string   // "" removes it
	SetValidSince bool
	ValidSince    *time.Time
	Crawlable     *bool
	ForwardQuery  *bool
}

// ListQuery selects a page of links, newest first or most visited first.
type ListQuery struct {
	Cursor         string // from the previous page; empty: the first page
	Limit          int
	Search         string  // substring of the target URL, title, code or a tag
	Domain         *string // only links of this domain (as stored); nil: every domain
	Owner          *int64  // only links of this key; nil: every link
	Tags           []string
	AllTags        bool       // every one of Tags, not any
	CreatedAfter   *time.Time // created at or after
	CreatedBefore  *time.Time // created before
	Order          ListOrder
	Ascending      bool     // Order from least to most; numbered pages only
	ExcludeTags    []string // none of these (every one of them with ExcludeAllTags)
	ExcludeAllTags bool
	ExcludeUsedUp  bool  // without links that reached their visit limit
	ExcludeExpired bool  // without links past their expiry
	Page           *Page // a numbered page, counted (Cursor unused); nil: cursor pages
}

// ListOrder is the order of a list of links.
type ListOrder string

const (
	OrderNewest      ListOrder = "newest" // by creation, the default
	OrderMostVisited ListOrder = "visits" // by access_count; a page may shift while counts grow
	// The orders of numbered pages only (Page): cursors know the two above.
	OrderCode  ListOrder = "code"
	OrderURL   ListOrder = "url"
	OrderTitle ListOrder = "title"
)

// ParseListOrder reads order= ("" is OrderNewest).
func ParseListOrder(v string) (ListOrder, error) {
	switch ListOrder(v) {
	case "", OrderNewest:
		return OrderNewest, nil
	case OrderMostVisited:
		return OrderMostVisited, nil
	}
	return "", Errorf(EINVALID, "order must be %s or %s", OrderNewest, OrderMostVisited)
}

// Page is a numbered page of a counted list.
type Page struct {
	Number int // from 1
	Size   int // from 1 to MaxPageSize
	Skip   int // items left out before the first page (YOURLS's start)
}

// MaxPageSize bounds a numbered page (Shlink's clients ask for 5,000 visits at once).
const MaxPageSize = 5000

// NewPage checks a page number and size; size -1 (Shlink's "all") is MaxPageSize.
func NewPage(number, size int) (Page, error) {
	if number < 1 {
		number = 1
	}
	if size < 0 {
		size = MaxPageSize
	}
	if size < 1 || size > MaxPageSize {
		return Page{}, Errorf(EINVALID, "a page holds 1 to %d items", MaxPageSize)
	}
	return Page{Number: number, Size: size}, nil
}

// Offset is how many items come before the page.
func (p Page) Offset() int { return p.Skip + (p.Number-1)*p.Size }

// APIKey is a management key; only its SHA-256 hash is stored.
type APIKey struct {
	ID        int64
	Name      string
	Role      Role
	Domain    string // the one domain it may manage, by name; "": every domain
	CreatedAt time.Time
	RevokedAt *time.Time
}

// LinkStore is the durable store of links (Postgres). Its methods name a
// link by its key (link.Key: the code, with the domain unless the default).
type LinkStore interface {
	// NextIDs reserves n fresh ids from the link sequence.
	NextIDs(ctx context.Context, n int) ([]int64, error)
	// CreateLink inserts l; a plain link (Dedup) whose URL exists already
	// gives the existing one, created false. A taken code is ECONFLICT.
	CreateLink(ctx context.Context, l Link) (Link, bool, error)
	// CreateAlias inserts l, whose alias has link.CodeLength characters, and
	// stores its announcement to the edge in the same transaction. A taken
	// code is ECONFLICT.
	CreateAlias(ctx context.Context, l Link) (Link, Invalidation, error)
	// FindByURL returns the links of domain whose URL hashes to urlHash (HashURL), oldest first.
	FindByURL(ctx context.Context, domain string, urlHash []byte) ([]Link, error)
	// FindByCode returns the link of code or ENOTFOUND, from the primary.
	FindByCode(ctx context.Context, code string) (Link, error)
	// ReadLink is FindByCode from a read replica if there is one (stale true:
	// it may lag), else, or when the replica does not have it, the primary.
	ReadLink(ctx context.Context, code string) (l Link, stale bool, err error)
	// Visit counts one visit of a link with a visit limit or expiry, atomically:
	// it returns the target, or EGONE when the link is expired or used up.
	Visit(ctx context.Context, code string) (string, error)
	ListLinks(ctx context.Context, q ListQuery) ([]Link, string, error)
	// PageLinks returns the numbered page q.Page of the links q selects, and how many it selects.
	PageLinks(ctx context.Context, q ListQuery) ([]Link, int64, error)
	// TagStats counts the links and visits of every tag of the links of owner and domain (nil: all).
	TagStats(ctx context.Context, owner *int64, domain *string) ([]TagStat, error)
	// RenameTag renames a tag on every link: ENOTFOUND when no link has it, ECONFLICT when one has the new name.
	RenameTag(ctx context.Context, from, to string) error
	// DeleteTags removes tags from every link.
	DeleteTags(ctx context.Context, tags []string) error
	// DeleteVisits forgets the visits of the link of key (its count, roll-ups and log)
	// if owner has it (nil: any), and says how many it had.
	DeleteVisits(ctx context.Context, key string, owner *int64) (int64, error)
	// VisitTotals sums the visits of the links of owner and domain (nil: all).
	VisitTotals(ctx context.Context, owner *int64, domain *string) (VisitSummary, error)
	// CrawlableCodes returns up to limit codes of crawlable links of domain, in code order.
	CrawlableCodes(ctx context.Context, domain string, limit int) ([]string, error)
	// UpdateLink applies p and stores the invalidation of the old entries in
	// the same transaction. Any change takes the link out of deduplication.
	// With owner set, a link of another owner is ENOTFOUND.
	UpdateLink(ctx context.Context, code string, owner *int64, p LinkPatch) (Link, Invalidation, error)
	// DeleteLink removes the link and stores the invalidation of its entries
	// in the same transaction. With owner set, a link of another owner is ENOTFOUND.
	DeleteLink(ctx context.Context, code string, owner *int64) (Invalidation, error)
	// BlockLinksTo gives the links whose target's host is one of domains or
	// below one a new version and stores their invalidations, in one transaction.
	BlockLinksTo(ctx context.Context, domains []string) ([]Invalidation, error)
	// CreateReport stores a report.
	CreateReport(ctx context.Context, r Report) (Report, error)
	// ListReports returns the newest reports, of owner's links only unless owner is nil.
	ListReports(ctx context.Context, owner *int64, limit int) ([]Report, error)
	// PendingInvalidations returns the oldest invalidations not yet done.
	PendingInvalidations(ctx context.Context, limit int) ([]Invalidation, error)
	// DeleteInvalidations forgets invalidations that were done.
	DeleteInvalidations(ctx context.Context, ids []int64) error
	// CreateKey stores a key; a name that an active key has is ECONFLICT.
	CreateKey(ctx context.Context, name string, role Role, domain string, hash []byte) (APIKey, error)
	ListKeys(ctx context.Context) ([]APIKey, error)
	// RevokeKey revokes the key with this id, or the one active key with this name.
	RevokeKey(ctx context.Context, nameOrID string) (APIKey, error)
	// ActiveKey returns the key with this hash unless it is revoked, else ENOTFOUND.
	ActiveKey(ctx context.Context, hash []byte) (APIKey, error)
	// AddHits adds counts to access_count of each code, once per chunkID: a
	// chunk applied before adds nothing (applied false).
	AddHits(ctx context.Context, chunkID string, hits map[string]int64) (applied bool, err error)
	// PruneHitChunks forgets applied chunk ids older than before.
	PruneHitChunks(ctx context.Context, before time.Time) error
	// ParkHits keeps a batch whose push Redis may have applied, uncounted.
	ParkHits(ctx context.Context, batchID string, hits map[string]int64) error
	// ParkedHits returns up to limit parked batches, oldest first.
	ParkedHits(ctx context.Context, limit int) ([]ParkedHits, error)
	// UnparkHits forgets a parked batch.
	UnparkHits(ctx context.Context, batchID string) error
	Ping(ctx context.Context) error
}

// ParkedHits is a batch of counts a stopping backend could not push to Redis
// after a push whose answer was lost, so Redis may have it already.
type ParkedHits struct {
	BatchID  string
	Hits     map[string]int64
	ParkedAt time.Time
}

// LinkCache is the Redis cache in front of LinkStore. A miss is ("", nil).
// Values read from it are untrusted: callers check them.
type LinkCache interface {
	// URL returns the cached target of code, at most link.MaxTargetBytes+1 bytes of it.
	URL(ctx context.Context, code string) (string, error)
	CodeForHash(ctx context.Context, urlHash []byte) (string, error)
	// SetLink caches l (code → URL for ttl, and, with withHash, its URL hash →
	// code) unless the cache has seen a newer version of l: a slow fill
	// never brings back what an invalidation removed. False if refused.
	SetLink(ctx context.Context, l Link, ttl time.Duration, withHash bool) (bool, error)
	// Invalidate drops the entries of inv, refuses fills older than its
	// version, lists an announced alias, and tells the edges. Doing it twice
	// does no harm.
	Invalidate(ctx context.Context, inv Invalidation) error
	// AliasUnlisted reports whether an alias of another length than
	// link.CodeLength is missing from a whole list of them: no link has it.
	AliasUnlisted(ctx context.Context, alias string) (bool, error)
	// Issued reads codes:issued: no generated code has an id above id +
	// link.IssuedWindow; ok is false when it is missing or malformed.
	Issued(ctx context.Context) (fingerprint string, id int64, ok bool, err error)
	// AwaitAnnounced waits, within wait, until every edge subscribed now
	// has listed the announced alias code.
	AwaitAnnounced(ctx context.Context, code string, wait time.Duration) error
	// RaiseIssued raises codes:issued to fingerprint and id; missing is true
	// when the key was not there (Redis lost it: the alias list may be gone),
	// and then it is created only with create.
	RaiseIssued(ctx context.Context, fingerprint string, id int64, create bool) (missing bool, err error)
	// PushHits adds hits to the pending hash once per batchID, however often it is sent.
	PushHits(ctx context.Context, batchID string, hits map[string]int64) error
	// HitsBatchPushed reports whether Redis added the batch batchID (within link.HitsPushedTTL).
	HitsBatchPushed(ctx context.Context, batchID string) (bool, error)
	// HoldFoldLease takes or renews the lease on folding for owner; false if another holds it.
	HoldFoldLease(ctx context.Context, owner string) (bool, error)
	// ReleaseFoldLease gives the lease up if owner holds it.
	ReleaseFoldLease(ctx context.Context, owner string) error
	// TakeHitBatch returns the batch being folded, or moves the pending hash
	// into a new one; "" when there is nothing to fold.
	TakeHitBatch(ctx context.Context) (string, error)
	// ReadHitBatch returns the valid counts of a batch and how many fields were malformed.
	ReadHitBatch(ctx context.Context, batch string) (map[string]int64, int, error)
	// FinishHitBatch deletes a batch whose counts are all in Postgres.
	FinishHitBatch(ctx context.Context, batch string) error
	Ping(ctx context.Context) error
}
