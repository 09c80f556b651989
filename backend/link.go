// Package backend holds kurz's domain: links, codes, URL rules, errors and the
// small interfaces its adapters (postgres, redis, http) implement or use.
package backend

import (
	"context"
	"time"
)

// Link is a short code and the URL it redirects to.
type Link struct {
	ID          int64  // sequence id (a generated code is derived from it)
	Code        string // generated, or an alias
	URL         string // normalized target
	URLHash     []byte // SHA-256 of URL, the dedup key
	Dedup       bool   // a plain link: one code per URL
	CreatedAt   time.Time
	UpdatedAt   time.Time
	AccessCount int64
	ExpiresAt   *time.Time // nil: never
	MaxVisits   *int64     // nil: unlimited
	Redirect    int        // 301, 302, 307 or 308; 0: the configured default
}

// Expired reports whether l has expired at now.
func (l Link) Expired(now time.Time) bool { return l.ExpiresAt != nil && !now.Before(*l.ExpiresAt) }

// CreateRequest is what POST /api/shorten may ask for.
type CreateRequest struct {
	URL       string
	Alias     string
	ExpiresAt *time.Time
	MaxVisits *int64
	Redirect  int
}

// Plain reports whether only a URL was asked for: such links are deduplicated.
func (r CreateRequest) Plain() bool {
	return r.Alias == "" && r.ExpiresAt == nil && r.MaxVisits == nil && r.Redirect == 0
}

// LinkPatch changes some fields of a link; a Set flag tells a field is present
// (so that null can clear ExpiresAt or MaxVisits).
type LinkPatch struct {
	URL          *string
	SetExpiresAt bool
	ExpiresAt    *time.Time
	SetMaxVisits bool
	MaxVisits    *int64
	Redirect     *int
}

// ListQuery selects a page of links, newest first.
type ListQuery struct {
	Cursor string // from the previous page; empty: the first page
	Limit  int
	Search string // substring of the target URL
}

// APIKey is a management key; only its SHA-256 hash is stored.
type APIKey struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// LinkStore is the durable store of links (Postgres).
type LinkStore interface {
	// NextIDs reserves n fresh ids from the link sequence.
	NextIDs(ctx context.Context, n int) ([]int64, error)
	// CreateLink inserts l; a plain link (Dedup) whose URL exists already
	// gives the existing one, created false. A taken code is ECONFLICT.
	CreateLink(ctx context.Context, l Link) (Link, bool, error)
	// FindByCode returns the link of code or ENOTFOUND.
	FindByCode(ctx context.Context, code string) (Link, error)
	// Visit counts one visit of a link with a visit limit or expiry, atomically:
	// it returns the target, or EGONE when the link is expired or used up.
	Visit(ctx context.Context, code string) (string, error)
	ListLinks(ctx context.Context, q ListQuery) ([]Link, string, error)
	// UpdateLink applies p and returns the link before and after.
	UpdateLink(ctx context.Context, code string, p LinkPatch) (before, after Link, err error)
	// DeleteLink removes the link and returns what it was.
	DeleteLink(ctx context.Context, code string) (Link, error)
	CreateKey(ctx context.Context, name string, hash []byte) (APIKey, error)
	ListKeys(ctx context.Context) ([]APIKey, error)
	// RevokeKey revokes the key with this name or id.
	RevokeKey(ctx context.Context, nameOrID string) (APIKey, error)
	// KeyActive reports whether a key with this hash exists and is not revoked.
	KeyActive(ctx context.Context, hash []byte) (bool, error)
	// AddHits adds counts to access_count of each code.
	AddHits(ctx context.Context, hits map[string]int64) error
	Ping(ctx context.Context) error
}

// LinkCache is the Redis cache in front of LinkStore. A miss is ("", nil).
type LinkCache interface {
	URL(ctx context.Context, code string) (string, error)
	// SetURL caches code → url for ttl (at most link.CodeTTL).
	SetURL(ctx context.Context, code, url string, ttl time.Duration) error
	// Forget removes a changed or deleted link's entries.
	Forget(ctx context.Context, code string, urlHash []byte) error
	CodeForHash(ctx context.Context, urlHash []byte) (string, error)
	// SetLink caches a new link (code → URL for ttl, and URL hash → code for
	// a plain one) in one round trip.
	SetLink(ctx context.Context, l Link, ttl time.Duration) error
	// TakeHits atomically removes and returns the pending edge-recorded hits.
	TakeHits(ctx context.Context) (map[string]int64, error)
	// AddHits adds hits back to the pending hash (used when Postgres is down).
	AddHits(ctx context.Context, hits map[string]int64) error
	Ping(ctx context.Context) error
}
