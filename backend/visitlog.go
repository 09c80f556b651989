package backend

import (
	"context"
	"time"
)

// The visit log: with a retention set, the fold that adds a batch's roll-ups
// also keeps each of its visits as a row, in the same transaction (so once).
// Rows hold what the roll-ups hold — time, referrer, browser, system, device,
// country, bot or not — never an address, and the user agent only when asked.
// Postgres keeps them in a table partitioned by day and drops whole days past
// the retention; the roll-ups stay the source of totals and charts.

// LoggedVisit is one visit as the visit log keeps it.
type LoggedVisit struct {
	Seq       int64  // the log's order among visits of the same second
	LinkID    *int64 // the link that held the code at the visit; nil: none
	Code      string
	At        time.Time
	Referrer  string
	Browser   string
	OS        string
	Device    string
	Country   string
	Bot       bool
	UserAgent string // "" unless full user agents are kept
}

// VisitLogSettings say whether and how the fold keeps each visit.
type VisitLogSettings struct {
	Retention     time.Duration // 0: no visit log
	FullUserAgent bool
}

// MinVisitLogRetention is the shortest retention: the log is dropped by day.
const MinVisitLogRetention = 24 * time.Hour

// VisitLogQuery selects a page of logged visits, newest first.
type VisitLogQuery struct {
	Code   string // the visits of this link; "": of every link the actor sees
	Tag    string // only links with this tag
	Cursor string // from the previous page; "": the first
	Limit  int
	Page   *Page      // a numbered page, counted (Cursor and Limit unused); nil: cursor pages
	From   *time.Time // only visits at or after
	To     *time.Time // only visits at or before
	// ExcludeBots leaves out the visits of bots.
	ExcludeBots bool

	LinkID *int64  // set from Code
	Owner  *int64  // set from the actor: only links of this key
	Domain *string // only links of this domain (as stored); a key limited to one sets it
}

const (
	// DefaultVisitLogLimit and MaxVisitLogLimit bound a page of visits.
	DefaultVisitLogLimit = 50
	MaxVisitLogLimit     = 500
)

// VisitLog is a page of visits of a link, a tag, a domain or every link, as actor
// may see them: authors see the visits of their own links only, admins all
// (and, with no code and no tag, the visits of links since deleted).
func (s *Shortener) VisitLog(ctx context.Context, actor Actor, q VisitLogQuery) ([]LoggedVisit, string, error) {
	if q.Limit == 0 {
		q.Limit = DefaultVisitLogLimit
	}
	if q.Limit < 1 || q.Limit > MaxVisitLogLimit {
		return nil, "", Errorf(EINVALID, "limit must be a number from 1 to %d", MaxVisitLogLimit)
	}
	if q.Page != nil {
		return nil, "", Errorf(EINVALID, "the visit log pages by cursor here")
	}
	if err := s.scopeVisits(ctx, actor, &q); err != nil {
		return nil, "", err
	}
	return s.Visits.ListVisitLog(ctx, q)
}

// scopeVisits limits q to what actor may see and checks its filters.
func (s *Shortener) scopeVisits(ctx context.Context, actor Actor, q *VisitLogQuery) error {
	if q.Tag != "" {
		tags, err := NormalizeTags([]string{q.Tag})
		if err != nil {
			return err
		}
		q.Tag = tags[0]
	}
	if err := checkVisitWindow(q.From, q.To); err != nil {
		return err
	}
	if q.Code != "" {
		l, err := s.Get(ctx, actor, q.Code)
		if err != nil {
			return err
		}
		q.LinkID = &l.ID
	}
	q.Owner = actor.Scope()
	if only := actor.DomainScope(); only != nil {
		if q.Domain != nil && *q.Domain != *only {
			return Errorf(EFORBIDDEN, "this key reads the visits of one domain only, not of the one asked for")
		}
		q.Domain = only
	}
	if s.Visits == nil {
		return Errorf(EUNAVAILABLE, "visit analytics are not set up")
	}
	return nil
}
