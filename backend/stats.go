package backend

import (
	"context"
	"time"
)

// Stats returns the visits of code over q; code "" is every link, for admins.
func (s *Shortener) Stats(ctx context.Context, actor Actor, code string, q StatsQuery) (Stats, error) {
	if err := q.Validate(s.now()); err != nil {
		return Stats{}, err
	}
	key := code
	if code == "" {
		if actor.Role != RoleAdmin {
			return Stats{}, Errorf(EFORBIDDEN, "statistics over all links need an admin key")
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
