package http

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

// shlinkVisit is Shlink's Visit, made from kurz's visit log.
type shlinkVisit struct {
	Referer       string          `json:"referer"`
	Date          string          `json:"date"`
	UserAgent     string          `json:"userAgent"`
	VisitLocation *shlinkLocation `json:"visitLocation"`
	PotentialBot  bool            `json:"potentialBot"`
	VisitedURL    string          `json:"visitedUrl"`
	RedirectURL   *string         `json:"redirectUrl"`
}

type shlinkLocation struct {
	CountryCode string  `json:"countryCode"`
	CountryName string  `json:"countryName"`
	RegionName  string  `json:"regionName"`
	CityName    string  `json:"cityName"`
	Latitude    float64 `json:"latitude"`
	Longitude   float64 `json:"longitude"`
	Timezone    string  `json:"timezone"`
	IsEmpty     bool    `json:"isEmpty"`
}

// shlinkVisitOf writes a logged visit as Shlink does; target is the long URL
// the visit went to when known ("" otherwise: null).
func (s *server) shlinkVisitOf(v backend.LoggedVisit, target string) shlinkVisit {
	domain, code := link.SplitKey(v.Code)
	j := shlinkVisit{Referer: shlinkReferer(v.Referrer), Date: shlinkDate(v.At), UserAgent: v.UserAgent, PotentialBot: v.Bot,
		VisitedURL: s.shortURL(domain, code)}
	if j.UserAgent == "" {
		j.UserAgent = typicalUserAgent(v.Browser, v.OS, v.Bot)
	}
	if target != "" {
		j.RedirectURL = &target
	}
	if name := countryName(v.Country); name != "" {
		j.VisitLocation = &shlinkLocation{CountryCode: v.Country, CountryName: name}
	}
	return j
}

// shlinkReferer is a URL for the referrer the log keeps (its host, or the
// URL with full referrers on); "" for none, as Shlink.
func shlinkReferer(ref string) string {
	switch {
	case ref == "direct", ref == "unknown", ref == "":
		return ""
	case strings.Contains(ref, "://"):
		return ref
	}
	return "https://" + ref
}

// visitsOf says which visits a route lists.
type visitsOf int

const (
	shortURLVisits visitsOf = iota
	tagVisits
	domainVisits
	allVisits
)

// shlinkVisits lists the visits of a short URL, a tag, a domain or every
// link, newest first, in numbered pages (all of them in one by default).
func (s *server) shlinkVisits(of visitsOf) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		page, err := shlinkPage(v, backend.MaxPageSize)
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		q := backend.VisitLogQuery{Page: &page, ExcludeBots: shlinkBool(v.Get("excludeBots"))}
		if q.From, err = parseShlinkDate("startDate", v.Get("startDate")); err == nil {
			q.To, err = parseShlinkDate("endDate", v.Get("endDate"))
		}
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		target := ""
		notFound := []shlinkNotFound{}
		switch of {
		case shortURLVisits:
			l, ok := s.shlinkLink(w, r)
			if !ok {
				return
			}
			q.Code, target = l.Key(), l.URL
		case tagVisits:
			q.Tag = r.PathValue("tag")
			notFound = append(notFound, s.shlinkTagNotFound(q.Tag))
			if !s.shlinkTagExists(w, r, q.Tag) {
				return
			}
		case domainVisits:
			name := r.PathValue("domain")
			notFound = append(notFound, s.shlinkDomainNotFound(name))
			if q.Domain, err = s.shlinkDomainParam(name); err != nil {
				notFound[0](w, r)
				return
			}
		case allVisits:
			if q.Domain, err = s.shlinkDomainParam(v.Get("domain")); err != nil {
				s.shlinkError(w, r, err)
				return
			}
		}
		if of == tagVisits && v.Get("domain") != "" {
			if q.Domain, err = s.shlinkDomainParam(v.Get("domain")); err != nil {
				s.shlinkError(w, r, err)
				return
			}
		}
		visits, total, err := s.links.VisitPage(r.Context(), actorOf(r), q)
		if err != nil {
			s.shlinkError(w, r, err, notFound...)
			return
		}
		data := make([]shlinkVisit, len(visits))
		for i, visit := range visits {
			data[i] = s.shlinkVisitOf(visit, target)
		}
		s.respond(w, http.StatusOK, map[string]any{"visits": map[string]any{"data": data, "pagination": paginationOf(page, len(data), total)}})
	}
}

func (s *server) shlinkDeleteVisits() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, err := s.shlinkKeyOf(r)
		var n int64
		if err == nil {
			n, err = s.links.DeleteVisits(r.Context(), actorOf(r), key)
		}
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		s.respond(w, http.StatusOK, map[string]int64{"deletedVisits": n})
	}
}

// shlinkOrphanVisits lists no visit: the edge answers unknown paths itself and keeps no record of them.
func (s *server) shlinkOrphanVisits() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		switch v.Get("type") {
		case "", "invalid_short_url", "base_url", "regular_404":
		default:
			s.shlinkInvalid(w, r, "type must be invalid_short_url, base_url or regular_404", []string{"type"})
			return
		}
		page, err := shlinkPage(v, backend.MaxPageSize)
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		s.respond(w, http.StatusOK, map[string]any{"visits": map[string]any{"data": []any{}, "pagination": paginationOf(page, 0, 0)}})
	}
}

func (s *server) shlinkDeleteOrphanVisits() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.respond(w, http.StatusOK, map[string]int64{"deletedVisits": 0})
	}
}

func (s *server) shlinkVisitsOverview() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		totals, err := s.links.VisitTotals(r.Context(), actorOf(r))
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		s.respond(w, http.StatusOK, map[string]any{"visits": map[string]any{
			"nonOrphanVisits": toShlinkSummary(totals), "orphanVisits": shlinkVisitsSummary{}}})
	}
}

func (s *server) shlinkTagNotFound(tag string) shlinkNotFound {
	return func(w http.ResponseWriter, r *http.Request) {
		s.shlinkProblem(w, r, http.StatusNotFound, "tag-not-found", "Tag not found", `Tag with name "`+tag+`" could not be found`, map[string]any{"tag": tag})
	}
}

func (s *server) shlinkDomainNotFound(domain string) shlinkNotFound {
	return func(w http.ResponseWriter, r *http.Request) {
		s.shlinkProblem(w, r, http.StatusNotFound, "domain-not-found", "Domain not found", `Domain with authority "`+domain+`" could not be found`,
			map[string]any{"authority": domain})
	}
}

// shlinkTagExists reports whether a link the key sees has tag; else it answers 404.
func (s *server) shlinkTagExists(w http.ResponseWriter, r *http.Request, tag string) bool {
	one := backend.Page{Number: 1, Size: 1}
	_, n, err := s.links.Page(r.Context(), actorOf(r), backend.ListQuery{Tags: []string{tag}, Page: &one})
	switch {
	case err == nil && n > 0:
		return true
	case err == nil || backend.ErrorCode(err) == backend.EINVALID: // no link has it, or no link can have it
		s.shlinkTagNotFound(tag)(w, r)
	default:
		s.shlinkError(w, r, err)
	}
	return false
}

// shlinkTagInfo is Shlink's TagInfo.
type shlinkTagInfo struct {
	Tag            string              `json:"tag"`
	ShortURLsCount int64               `json:"shortUrlsCount"`
	VisitsSummary  shlinkVisitsSummary `json:"visitsSummary"`
}

// shlinkTagOrders compare tags for each orderBy field of /tags/stats.
var shlinkTagOrders = map[string]func(a, b backend.TagStat) int{
	"tag":            func(a, b backend.TagStat) int { return strings.Compare(a.Tag, b.Tag) },
	"shortUrlsCount": func(a, b backend.TagStat) int { return cmp.Compare(a.Links, b.Links) },
	"visits":         func(a, b backend.TagStat) int { return cmp.Compare(a.Visits.Total, b.Visits.Total) },
	"nonBotVisits":   func(a, b backend.TagStat) int { return cmp.Compare(a.Visits.Humans(), b.Visits.Humans()) },
}

// shlinkTags lists the tags the key sees (with stats: and their counts),
// searched, ordered and paged as Shlink does.
func (s *server) shlinkTags(withStats bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		page, err := shlinkPage(v, backend.MaxPageSize)
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		tags, err := s.links.Tags(r.Context(), actorOf(r))
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		if term := strings.ToLower(v.Get("searchTerm")); term != "" {
			tags = slices.DeleteFunc(tags, func(t backend.TagStat) bool { return !strings.Contains(t.Tag, term) })
		}
		if order := v.Get("orderBy"); order != "" {
			field, dir, _ := strings.Cut(order, "-")
			compare, ok := shlinkTagOrders[field]
			if !ok || (!withStats && field != "tag") {
				s.shlinkInvalid(w, r, "orderBy must be tag, shortUrlsCount, visits or nonBotVisits, then -ASC or -DESC", []string{"orderBy"})
				return
			}
			slices.SortStableFunc(tags, func(a, b backend.TagStat) int {
				if dir == "DESC" {
					return compare(b, a)
				}
				return compare(a, b)
			})
		}
		total := int64(len(tags))
		tags = tags[min(page.Offset(), len(tags)):min(page.Offset()+page.Size, len(tags))]
		var data any
		if withStats {
			infos := make([]shlinkTagInfo, len(tags))
			for i, t := range tags {
				infos[i] = shlinkTagInfo{Tag: t.Tag, ShortURLsCount: t.Links, VisitsSummary: toShlinkSummary(t.Visits)}
			}
			data = infos
		} else {
			names := make([]string, len(tags))
			for i, t := range tags {
				names[i] = t.Tag
			}
			data = names
		}
		s.respond(w, http.StatusOK, map[string]any{"tags": map[string]any{"data": data, "pagination": paginationOf(page, len(tags), total)}})
	}
}

func (s *server) shlinkRenameTag() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			OldName string `json:"oldName"`
			NewName string `json:"newName"`
		}
		if err := s.shlinkDecode(w, r, &body); err != nil {
			s.shlinkError(w, r, err)
			return
		}
		if body.OldName == "" || body.NewName == "" {
			s.shlinkInvalid(w, r, "oldName and newName are required", []string{"oldName", "newName"})
			return
		}
		err := s.links.RenameTag(r.Context(), actorOf(r), body.OldName, body.NewName)
		switch code := backend.ErrorCode(err); {
		case err == nil:
			w.WriteHeader(http.StatusNoContent)
		case code == backend.ECONFLICT:
			s.shlinkProblem(w, r, http.StatusConflict, "tag-conflict", "Tag conflict",
				`You cannot rename tag `+body.OldName+` to `+body.NewName+`, because it already exists`, map[string]any{"oldName": body.OldName, "newName": body.NewName})
		case code == backend.EFORBIDDEN:
			s.shlinkProblem(w, r, http.StatusForbidden, "forbidden-tag-operation", "Forbidden tag operation", "You are not allowed to rename tags", nil)
		default:
			s.shlinkError(w, r, err, s.shlinkTagNotFound(body.OldName))
		}
	}
}

func (s *server) shlinkDeleteTags() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tags := shlinkList(r.URL.Query(), "tags")
		if len(tags) == 0 {
			s.shlinkInvalid(w, r, "tags are required", []string{"tags"})
			return
		}
		err := s.links.DeleteTags(r.Context(), actorOf(r), tags)
		switch {
		case err == nil:
			w.WriteHeader(http.StatusNoContent)
		case backend.ErrorCode(err) == backend.EFORBIDDEN:
			s.shlinkProblem(w, r, http.StatusForbidden, "forbidden-tag-operation", "Forbidden tag operation", "You are not allowed to delete tags", nil)
		default:
			s.shlinkError(w, r, err)
		}
	}
}

// shlinkRedirects is Shlink's domain redirects: kurz's root redirect is the
// base URL's, its not-found redirect the invalid short URL's; kurz answers
// paths that are no code itself (Shlink's regular 404), so that one is null.
type shlinkRedirects struct {
	BaseURLRedirect         *string `json:"baseUrlRedirect"`
	Regular404Redirect      *string `json:"regular404Redirect"`
	InvalidShortURLRedirect *string `json:"invalidShortUrlRedirect"`
}

func toShlinkRedirects(d backend.DomainRedirects) shlinkRedirects {
	j := toRedirectsJSON(d)
	return shlinkRedirects{BaseURLRedirect: j.Root, InvalidShortURLRedirect: j.NotFound}
}

func (s *server) shlinkDomains() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		type domain struct {
			Domain    string          `json:"domain"`
			IsDefault bool            `json:"isDefault"`
			Redirects shlinkRedirects `json:"redirects"`
		}
		data := []domain{}
		for _, name := range s.cfg.Domains.Names() {
			stored, _ := s.cfg.Domains.Param(name)
			if actorOf(r).ReachesDomain(stored) {
				data = append(data, domain{Domain: name, IsDefault: stored == "", Redirects: toShlinkRedirects(s.redirectsOf(stored))})
			}
		}
		s.respond(w, http.StatusOK, map[string]any{"domains": map[string]any{"data": data, "defaultRedirects": toShlinkRedirects(s.redirectsOf(""))}})
	}
}

func (s *server) redirectsOf(domain string) backend.DomainRedirects {
	if s.cfg.Redirects == nil {
		return backend.DomainRedirects{}
	}
	return s.cfg.Redirects.For(domain)
}

// shlinkEditDomainRedirects sets the redirects the body names (null: none), keeping the others.
func (s *server) shlinkEditDomainRedirects() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Domain                  string   `json:"domain"`
			BaseURLRedirect         **string `json:"baseUrlRedirect"`
			Regular404Redirect      **string `json:"regular404Redirect"`
			InvalidShortURLRedirect **string `json:"invalidShortUrlRedirect"`
		}
		if err := s.shlinkDecode(w, r, &body); err != nil {
			s.shlinkError(w, r, err)
			return
		}
		if body.Domain == "" {
			s.shlinkInvalid(w, r, "domain is required", []string{"domain"})
			return
		}
		if body.Regular404Redirect != nil && *body.Regular404Redirect != nil && **body.Regular404Redirect != "" {
			s.shlinkInvalid(w, r, "kurz answers paths that are no short code itself: set invalidShortUrlRedirect for unknown codes", []string{"regular404Redirect"})
			return
		}
		stored, err := s.cfg.Domains.Param(body.Domain)
		if err != nil || s.cfg.Redirects == nil {
			s.shlinkInvalid(w, r, "kurz does not serve the domain "+body.Domain, []string{"domain"})
			return
		}
		set := s.redirectsOf(stored)
		if body.BaseURLRedirect != nil {
			set.Root = deref(*body.BaseURLRedirect)
		}
		if body.InvalidShortURLRedirect != nil {
			set.NotFound = deref(*body.InvalidShortURLRedirect)
		}
		got, err := s.cfg.Redirects.Set(r.Context(), actorOf(r), stored, set)
		if backend.ErrorCode(err) == backend.EINVALIDURL || backend.ErrorCode(err) == backend.EINVALIDFIELD {
			s.shlinkInvalid(w, r, backend.ErrorMessage(err), []string{"baseUrlRedirect", "invalidShortUrlRedirect"})
			return
		}
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		s.respond(w, http.StatusOK, toShlinkRedirects(got))
	}
}
