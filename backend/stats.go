package backend

import (
	"context"
	"time"
)

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

// Stats returns the visits of code over q; code "" is every link, for admins.
func (s *Shortener) Stats(ctx context.Context, actor Actor, code string, q StatsQuery) (Stats, error) {
	if err := q.Validate(s.now()); err != nil {
		return Stats{}, err
	}
	key := code
	if code == "" {
		if actor.Role != RoleAdmin || actor.DomainScope() != nil {
			return Stats{}, Errorf(EFORBIDDEN, "statistics over all links need an admin key of every domain")
		}
		key = AllLinksCode
	} else if _, err := s.Get(ctx, actor, code); err != nil {
		return Stats{}, err
	}
	if s.Visits == nil {
		return Stats{}, Errorf(EUNAVAILABLE, "visit analytics are not set up")
	}
	st, err := s.Visits.VisitStats(ctx, key, q.From, q.To, q.Interval)
	if err != nil {
		return Stats{}, err
	}
	st.Code, st.Interval = code, "day"
	if q.Interval == time.Hour {
		st.Interval = "hour"
	}
	return st, nil
}
