package backend

import (
	"context"
	"time"
)

// VisitSummary is how many visits a link (or a set of them) had, and how
// many of them came from bots.
type VisitSummary struct {
	Total int64
	Bots  int64 // as classified by the fold, within the analytics retention
}

// Humans is the visits that were not from bots.
func (v VisitSummary) Humans() int64 { return v.Total - v.Bots }

// TagStat is a tag, how many links have it and their visits.
type TagStat struct {
	Tag    string
	Links  int64
	Visits VisitSummary
}

// Summaries are the visit summaries of links by key: the total is the
// link's count, the bots the roll-ups' (never more than the total).
func (s *Shortener) Summaries(ctx context.Context, links []Link) (map[string]VisitSummary, error) {
	keys := make([]string, len(links))
	for i, l := range links {
		keys[i] = l.Key()
	}
	bots := map[string]int64{}
	if s.Visits != nil && len(keys) > 0 {
		var err error
		if bots, err = s.Visits.BotVisits(ctx, keys); err != nil {
			return nil, err
		}
	}
	out := make(map[string]VisitSummary, len(links))
	for _, l := range links {
		out[l.Key()] = VisitSummary{Total: l.AccessCount, Bots: min(bots[l.Key()], l.AccessCount)}
	}
	return out, nil
}

// Tags are the tags of the links actor may see, with their counts, by name.
func (s *Shortener) Tags(ctx context.Context, actor Actor) ([]TagStat, error) {
	return s.store.TagStats(ctx, actor.Scope(), actor.DomainScope())
}

// RenameTag renames a tag on every link; only admins of every domain may.
func (s *Shortener) RenameTag(ctx context.Context, actor Actor, from, to string) error {
	if err := canEditTags(actor); err != nil {
		return err
	}
	tags, err := NormalizeTags([]string{from, to})
	if err != nil {
		return err
	}
	if len(tags) == 1 {
		return nil // the same name
	}
	return s.store.RenameTag(ctx, tags[0], tags[1])
}

// DeleteTags removes tags from every link; only admins of every domain may.
func (s *Shortener) DeleteTags(ctx context.Context, actor Actor, tags []string) error {
	if err := canEditTags(actor); err != nil {
		return err
	}
	tags, err := NormalizeTags(tags)
	if err != nil {
		return err
	}
	return s.store.DeleteTags(ctx, tags)
}

func canEditTags(actor Actor) error {
	if actor.Role != RoleAdmin || actor.DomainScope() != nil {
		return Errorf(EFORBIDDEN, "only an admin key of every domain may rename or delete tags")
	}
	return nil
}

// DeleteVisits forgets the visits of the link of key, which actor must
// manage: its count, roll-ups and logged visits. Visits still on their way
// (pushed but not folded) are counted afterwards.
func (s *Shortener) DeleteVisits(ctx context.Context, actor Actor, key string) (int64, error) {
	l, err := s.Get(ctx, actor, key)
	if err != nil {
		return 0, err
	}
	n, err := s.store.DeleteVisits(ctx, l.Key(), actor.Scope())
	if err == nil {
		s.logger.Info("visits of a link deleted", "key", l.Key(), "visits", n, "key_id", actor.KeyID)
	}
	return n, noLink(err)
}

// VisitTotals sums the visits of the links actor may see.
func (s *Shortener) VisitTotals(ctx context.Context, actor Actor) (VisitSummary, error) {
	return s.store.VisitTotals(ctx, actor.Scope(), actor.DomainScope())
}

// VisitPage is a numbered page of logged visits as actor may see them (see
// VisitLog), and how many the selection holds.
func (s *Shortener) VisitPage(ctx context.Context, actor Actor, q VisitLogQuery) ([]LoggedVisit, int64, error) {
	if q.Page == nil {
		return nil, 0, Errorf(EINVALID, "a numbered page is needed")
	}
	if err := s.scopeVisits(ctx, actor, &q); err != nil {
		return nil, 0, err
	}
	return s.Visits.PageVisitLog(ctx, q)
}

// checkVisitWindow checks an optional [from, to] of visits.
func checkVisitWindow(from, to *time.Time) error {
	if from != nil && to != nil && to.Before(*from) {
		return Errorf(EINVALID, "the end of the visits' window is before its start")
	}
	return nil
}
