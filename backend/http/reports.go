package http

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

type reportJSON struct {
	ID        int64     `json:"id"`
	Code      string    `json:"code"`
	Target    string    `json:"target,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// reportedCode accepts a code (of the default domain) or the short URL of
// one on any domain, and returns the link's key.
func (s *server) reportedCode(v string) string {
	v = strings.TrimSpace(v)
	if u, err := url.Parse(v); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		if domain, err := s.cfg.Domains.Param(u.Hostname()); err == nil {
			return link.Key(domain, strings.TrimPrefix(u.Path, "/"))
		}
	}
	return v // a code, or not one of ours: 404
}

// handleReport takes a report from anyone (Traefik rate limits it).
func (s *server) handleReport() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Code   string `json:"code"`
			Reason string `json:"reason"`
		}
		if err := s.decode(w, r, &req); err != nil {
			s.error(w, r, err)
			return
		}
		rep, err := s.links.Report(r.Context(), s.reportedCode(req.Code), req.Reason)
		if err != nil {
			s.error(w, r, err)
			return
		}
		s.respond(w, http.StatusCreated, reportJSON{ID: rep.ID, Code: rep.Code, CreatedAt: rep.CreatedAt})
	}
}

// handleListReports shows key holders the reports of the links they may manage.
func (s *server) handleListReports() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reports, err := s.links.Reports(r.Context(), actorOf(r), 100)
		if err != nil {
			s.error(w, r, err)
			return
		}
		out := struct {
			Reports []reportJSON `json:"reports"`
		}{Reports: make([]reportJSON, len(reports))}
		for i, rep := range reports {
			out.Reports[i] = reportJSON{ID: rep.ID, Code: rep.Code, Target: rep.Target, Reason: rep.Reason, CreatedAt: rep.CreatedAt}
		}
		s.respond(w, http.StatusOK, out)
	}
}

// handleReportPage is the report form, for people without JavaScript too.
func (s *server) handleReportPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s.renderPage(w, http.StatusOK, pageData{Report: true, ReportCode: q.Get("code"), ReportSent: q.Get("sent") == "1"})
	}
}

// handleReportForm takes the form's post and redirects, so a reload does not report twice.
func (s *server) handleReportForm() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			s.renderPage(w, http.StatusBadRequest, pageData{Report: true, Error: "The form could not be read. Please try again."})
			return
		}
		code := s.reportedCode(r.PostForm.Get("code"))
		if _, err := s.links.Report(r.Context(), code, r.PostForm.Get("reason")); err != nil {
			status, ok := statusOf[backend.ErrorCode(err)]
			if !ok || status >= 500 {
				status = http.StatusServiceUnavailable
			}
			s.renderPage(w, status, pageData{Report: true, ReportCode: code, Error: sentence(backend.ErrorMessage(err))})
			return
		}
		http.Redirect(w, r, "/report?sent=1", http.StatusSeeOther)
	}
}
