// Package backend holds kurz's domain: links, codes, URL rules, errors and the
// small interfaces its adapters (postgres, redis, http) implement or use.
package backend

import (
	"context"
	"time"
)

// Link is a short code and the URL it redirects to.
type Link struct {
	ID          int64 // sequence id the code was derived from
	Code        string
	URL         string // normalized target
	URLHash     []byte // SHA-256 of URL, the dedup key
	CreatedAt   time.Time
	AccessCount int64
}

// LinkStore is the durable store of links (Postgres).
type LinkStore interface {
	// NextIDs reserves n fresh ids from the link sequence.
	NextIDs(ctx context.Context, n int) ([]int64, error)
	// CreateLink inserts l unless its URLHash exists; it returns the stored link
	// and whether it was created. A taken code is ECONFLICT.
	CreateLink(ctx context.Context, l Link) (Link, bool, error)
	// FindByCode returns the link of code or ENOTFOUND.
	FindByCode(ctx context.Context, code string) (Link, error)
	// AddHits adds counts to access_count of each code.
	AddHits(ctx context.Context, hits map[string]int64) error
	Ping(ctx context.Context) error
}

// LinkCache is the Redis cache in front of LinkStore. A miss is ("", nil).
type LinkCache interface {
	URL(ctx context.Context, code string) (string, error)
	SetURL(ctx context.Context, code, url string) error
	CodeForHash(ctx context.Context, urlHash []byte) (string, error)
	// SetLink caches both directions of a link in one round trip.
	SetLink(ctx context.Context, l Link) error
	// TakeHits atomically removes and returns the pending edge-recorded hits.
	TakeHits(ctx context.Context) (map[string]int64, error)
	// AddHits adds hits back to the pending hash (used when Postgres is down).
	AddHits(ctx context.Context, hits map[string]int64) error
	Ping(ctx context.Context) error
}
