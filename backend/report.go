package backend

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Report is someone's word that a link is abusive; nothing about them is kept.
type Report struct {
	ID        int64
	Code      string
	Target    string // the link's target when it was reported
	Reason    string
	CreatedAt time.Time
}

// MaxReportReason bounds what a report may say.
const MaxReportReason = 1000

// Report records a report of code; the link must exist.
func (s *Shortener) Report(ctx context.Context, code, reason string) (Report, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return Report{}, Errorf(EINVALIDFIELD, "reason is required: say what is wrong with the link")
	case len(reason) > MaxReportReason || !utf8.ValidString(reason) || strings.ContainsRune(reason, 0):
		return Report{}, Errorf(EINVALIDFIELD, "reason must be text of at most %d bytes", MaxReportReason)
	}
	l, err := s.Get(ctx, system, code) // any link, gone ones too
	if err != nil {
		return Report{}, err
	}
	r, err := s.store.CreateReport(ctx, Report{Code: l.Key(), Target: l.URL, Reason: reason})
	if err == nil {
		s.logger.Warn("link reported", "code", l.Code, "report", r.ID)
	}
	return r, err
}

// Reports lists the newest reports of the links actor may manage.
func (s *Shortener) Reports(ctx context.Context, actor Actor, limit int) ([]Report, error) {
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	return s.store.ListReports(ctx, actor.Scope(), limit)
}
