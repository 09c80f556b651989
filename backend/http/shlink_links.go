package http

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

// shlinkShortURL is Shlink's ShortUrl: every key always present.
type shlinkShortURL struct {
	ShortCode        string              `json:"shortCode"`
	ShortURL         string              `json:"shortUrl"`
	LongURL          string              `json:"longUrl"`
	DateCreated      string              `json:"dateCreated"`
	VisitsSummary    shlinkVisitsSummary `json:"visitsSummary"`
	Tags             []string            `json:"tags"`
	Meta             shlinkMeta          `json:"meta"`
	Domain           *string             `json:"domain"`
	Title            *string             `json:"title"`
	Crawlable        bool                `json:"crawlable"`
	ForwardQuery     bool                `json:"forwardQuery"`
	HasRedirectRules bool                `json:"hasRedirectRules"`
}

type shlinkMeta struct {
	ValidSince *string `json:"validSince"`
	ValidUntil *string `json:"validUntil"`
	MaxVisits  *int64  `json:"maxVisits"`
}

type shlinkVisitsSummary struct {
	Total   int64 `json:"total"`
	NonBots int64 `json:"nonBots"`
	Bots    int64 `json:"bots"`
}

func toShlinkSummary(v backend.VisitSummary) shlinkVisitsSummary {
	return shlinkVisitsSummary{Total: v.Total, NonBots: v.Humans(), Bots: v.Bots}
}

func (s *server) shlinkShortURL(l backend.Link, v backend.VisitSummary) shlinkShortURL {
	j := shlinkShortURL{ShortCode: l.Code, ShortURL: s.shortURL(l.Domain, l.Code), LongURL: l.URL, DateCreated: shlinkDate(l.CreatedAt),
		VisitsSummary: toShlinkSummary(v), Tags: l.Tags, Crawlable: l.Crawlable, ForwardQuery: l.ForwardQuery,
		Meta: shlinkMeta{ValidSince: shlinkDatePtr(l.ValidSince), ValidUntil: shlinkDatePtr(l.ExpiresAt), MaxVisits: l.MaxVisits}}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	if l.Domain != "" {
		name := s.cfg.Domains.Name(l.Domain)
		j.Domain = &name
	}
	if l.Title != "" {
		j.Title = &l.Title
	}
	return j
}

// shlinkShortURLs writes links with their visit summaries.
func (s *server) shlinkShortURLs(r *http.Request, links []backend.Link) ([]shlinkShortURL, error) {
	sums, err := s.links.Summaries(r.Context(), links)
	if err != nil {
		return nil, err
	}
	out := make([]shlinkShortURL, len(links))
	for i, l := range links {
		out[i] = s.shlinkShortURL(l, sums[l.Key()])
	}
	return out, nil
}

func (s *server) shlinkOne(w http.ResponseWriter, r *http.Request, status int, l backend.Link) {
	j, err := s.shlinkShortURLs(r, []backend.Link{l})
	if err != nil {
		s.shlinkError(w, r, err)
		return
	}
	s.respond(w, status, j[0])
}

// shlinkOrders are Shlink's orderBy fields.
var shlinkOrders = map[string]backend.ListOrder{
	"dateCreated": backend.OrderNewest, "shortCode": backend.OrderCode, "longUrl": backend.OrderURL, "title": backend.OrderTitle,
	"visits": backend.OrderMostVisited, "nonBotVisits": backend.OrderMostVisited, // ordered by every visit: kurz counts bots apart only in analytics
}

func (s *server) shlinkListShortURLs() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		page, err := shlinkPage(v, 10)
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		q := backend.ListQuery{Page: &page, Search: v.Get("searchTerm"), Tags: shlinkList(v, "tags"), AllTags: v.Get("tagsMode") == "all",
			ExcludeTags: shlinkList(v, "excludeTags"), ExcludeAllTags: v.Get("excludeTagsMode") == "all",
			ExcludeUsedUp: shlinkBool(v.Get("excludeMaxVisitsReached")), ExcludeExpired: shlinkBool(v.Get("excludePastValidUntil"))}
		if order := v.Get("orderBy"); order != "" {
			field, dir, _ := strings.Cut(order, "-")
			o, ok := shlinkOrders[field]
			if !ok || (dir != "" && dir != "ASC" && dir != "DESC") {
				s.shlinkInvalid(w, r, "orderBy must be one of dateCreated, shortCode, longUrl, title, visits, nonBotVisits, then -ASC or -DESC", []string{"orderBy"})
				return
			}
			q.Order, q.Ascending = o, dir == "ASC"
		}
		if q.CreatedAfter, err = parseShlinkDate("startDate", v.Get("startDate")); err == nil {
			q.CreatedBefore, err = parseShlinkDate("endDate", v.Get("endDate"))
		}
		if err == nil && q.CreatedBefore != nil {
			end := q.CreatedBefore.Add(time.Microsecond) // Shlink's endDate is inclusive
			q.CreatedBefore = &end
		}
		if err == nil {
			q.Domain, err = s.shlinkDomainParam(v.Get("domain"))
		}
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		links, total, err := s.links.Page(r.Context(), actorOf(r), q)
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		data, err := s.shlinkShortURLs(r, links)
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		s.respond(w, http.StatusOK, map[string]any{"shortUrls": map[string]any{"data": data, "pagination": paginationOf(page, len(data), total)}})
	}
}

// shlinkCreate is the body of Shlink's create.
type shlinkCreate struct {
	LongURL         *string  `json:"longUrl"`
	CustomSlug      string   `json:"customSlug"`
	PathPrefix      string   `json:"pathPrefix"`
	FindIfExists    bool     `json:"findIfExists"`
	Domain          string   `json:"domain"`
	ShortCodeLength flexInt  `json:"shortCodeLength"`
	ValidSince      *string  `json:"validSince"`
	ValidUntil      *string  `json:"validUntil"`
	MaxVisits       flexInt  `json:"maxVisits"`
	Tags            []string `json:"tags"`
	Title           *string  `json:"title"`
	Crawlable       bool     `json:"crawlable"`
	ForwardQuery    *bool    `json:"forwardQuery"` // Shlink's default: true
}

func (s *server) shlinkCreateShortURL() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body shlinkCreate
		if err := s.shlinkDecode(w, r, &body); err != nil {
			s.shlinkError(w, r, err)
			return
		}
		s.shlinkCreate(w, r, body, func(l backend.Link) { s.shlinkOne(w, r, http.StatusOK, l) })
	}
}

// shlinkCreate makes the link body asks for and hands it to done.
func (s *server) shlinkCreate(w http.ResponseWriter, r *http.Request, body shlinkCreate, done func(backend.Link)) {
	invalid := func(field, msg string) { s.shlinkInvalid(w, r, msg, []string{field}) }
	switch {
	case body.LongURL == nil || *body.LongURL == "":
		invalid("longUrl", "longUrl is required")
		return
	case body.PathPrefix != "":
		invalid("pathPrefix", "kurz's codes hold no slash: pathPrefix is not supported")
		return
	case body.ShortCodeLength.value != nil && *body.ShortCodeLength.value < 4:
		invalid("shortCodeLength", "shortCodeLength must be at least 4")
		return
	case body.MaxVisits.value != nil && *body.MaxVisits.value < 1:
		invalid("maxVisits", "maxVisits must be a positive number")
		return
	}
	since, err := parseShlinkDate("validSince", deref(body.ValidSince))
	if err != nil {
		s.shlinkError(w, r, err)
		return
	}
	until, err := parseShlinkDate("validUntil", deref(body.ValidUntil))
	if err != nil {
		s.shlinkError(w, r, err)
		return
	}
	domain, err := s.cfg.Domains.Param(body.Domain)
	if err != nil {
		invalid("domain", backend.ErrorMessage(err))
		return
	}
	actor := actorOf(r)
	if domain, err = actor.CreatesOn(domain, body.Domain != ""); err != nil {
		s.shlinkError(w, r, err)
		return
	}
	req := backend.CreateRequest{URL: *body.LongURL, Domain: domain, Alias: body.CustomSlug, ExpiresAt: until, MaxVisits: body.MaxVisits.value,
		Reuse: backend.ReuseNone,
		Meta:  backend.Meta{Tags: body.Tags, Title: deref(body.Title), ValidSince: since, Crawlable: body.Crawlable, ForwardQuery: body.ForwardQuery == nil || *body.ForwardQuery}}
	if body.FindIfExists {
		req.Reuse = backend.ReuseMatching
	}
	if actor != backend.Anonymous {
		req.Owner = &actor.KeyID
	}
	l, _, err := s.links.Shorten(r.Context(), req)
	switch {
	case backend.ErrorCode(err) == backend.ECONFLICT:
		detail := `Provided slug "` + body.CustomSlug + `" is already in use`
		extra := map[string]any{"customSlug": body.CustomSlug}
		if body.Domain != "" {
			detail += ` for domain "` + body.Domain + `"`
			extra["domain"] = body.Domain
		}
		s.shlinkProblem(w, r, http.StatusBadRequest, "non-unique-slug", "Invalid custom slug", detail+".", extra)
	case err != nil:
		s.shlinkError(w, r, err)
	default:
		done(l)
	}
}

// shlinkShorten is Shlink's GET /short-urls/shorten for bookmarklets and
// scripts: the key and URL in the query, the short URL as text or JSON.
func (s *server) shlinkShorten() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		longURL := v.Get("longUrl")
		s.shlinkCreate(w, r, shlinkCreate{LongURL: &longURL, FindIfExists: true}, func(l backend.Link) {
			if v.Get("format") == "txt" || (v.Get("format") == "" && strings.HasPrefix(r.Header.Get("Accept"), "text/plain")) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				io.WriteString(w, s.shortURL(l.Domain, l.Code))
				return
			}
			s.shlinkOne(w, r, http.StatusOK, l)
		})
	}
}

// shlinkKeyOf is the key of the link a Shlink path names, on ?domain=.
func (s *server) shlinkKeyOf(r *http.Request) (string, error) {
	domain, err := s.shlinkDomainParam(r.URL.Query().Get("domain"))
	if err != nil {
		return "", backend.Errorf(backend.ENOTFOUND, "no such domain") // a link of a domain not served is not found, as in Shlink
	}
	code := r.PathValue("shortCode")
	if domain == nil {
		return code, nil
	}
	return link.Key(*domain, code), nil
}

func (s *server) shlinkGetShortURL() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		l, ok := s.shlinkLink(w, r)
		if ok {
			s.shlinkOne(w, r, http.StatusOK, l)
		}
	}
}

// shlinkLink is the link the path names, if the key manages it; else it answers.
func (s *server) shlinkLink(w http.ResponseWriter, r *http.Request) (backend.Link, bool) {
	key, err := s.shlinkKeyOf(r)
	if err == nil {
		var l backend.Link
		if l, err = s.links.Get(r.Context(), actorOf(r), key); err == nil {
			return l, true
		}
	}
	s.shlinkError(w, r, err)
	return backend.Link{}, false
}

// shlinkEditShortURL changes what the body names; null clears.
func (s *server) shlinkEditShortURL() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, err := s.shlinkKeyOf(r)
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		var body map[string]json.RawMessage
		if err := s.shlinkDecode(w, r, &body); err != nil {
			s.shlinkError(w, r, err)
			return
		}
		p, err := shlinkPatch(body)
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		l, err := s.links.Update(r.Context(), actorOf(r), key, p)
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		s.shlinkOne(w, r, http.StatusOK, l)
	}
}

// shlinkPatch reads the fields of Shlink's edit; others (domain, shortCode…) are ignored.
func shlinkPatch(body map[string]json.RawMessage) (backend.LinkPatch, error) {
	var p backend.LinkPatch
	isNull := func(raw json.RawMessage) bool { return string(raw) == "null" }
	field := func(name string, v any) error {
		if err := json.Unmarshal(body[name], v); err != nil {
			return invalidField(name, backend.Errorf(backend.EINVALIDFIELD, "%s has the wrong type", name))
		}
		return nil
	}
	date := func(name string) (*time.Time, error) {
		var raw *string
		if err := field(name, &raw); err != nil {
			return nil, err
		}
		return parseShlinkDate(name, deref(raw))
	}
	var err error
	for name, raw := range body {
		switch name {
		case "longUrl":
			p.URL = new(string)
			err = field(name, p.URL)
		case "validSince":
			p.SetValidSince = true
			p.ValidSince, err = date(name)
		case "validUntil":
			p.SetExpiresAt = true
			p.ExpiresAt, err = date(name)
		case "maxVisits":
			var n flexInt
			if err = json.Unmarshal(raw, &n); err != nil {
				err = invalidField(name, backend.Errorf(backend.EINVALIDFIELD, "maxVisits must be a whole number or null"))
			}
			p.SetMaxVisits, p.MaxVisits = true, n.value
		case "tags":
			tags := []string{}
			if !isNull(raw) {
				err = field(name, &tags)
			}
			p.Tags = &tags
		case "title":
			var title *string
			err = field(name, &title)
			p.Title = new(string)
			*p.Title = deref(title)
		case "crawlable":
			p.Crawlable = new(bool)
			err = field(name, p.Crawlable)
		case "forwardQuery":
			p.ForwardQuery = new(bool)
			err = field(name, p.ForwardQuery)
		}
		if err != nil {
			return p, err
		}
	}
	return p, nil
}

func (s *server) shlinkDeleteShortURL() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, err := s.shlinkKeyOf(r)
		if err == nil {
			err = s.links.Delete(r.Context(), actorOf(r), key)
		}
		if err != nil {
			s.shlinkError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// shlinkRedirectRules answers that a link has no redirect rules: kurz has
// none, and setting any is refused.
func (s *server) shlinkRedirectRules() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		l, ok := s.shlinkLink(w, r)
		if !ok {
			return
		}
		if r.Method == http.MethodPost {
			var body struct {
				RedirectRules []json.RawMessage `json:"redirectRules"`
			}
			if err := s.shlinkDecode(w, r, &body); err != nil {
				s.shlinkError(w, r, err)
				return
			}
			if len(body.RedirectRules) > 0 {
				s.shlinkInvalid(w, r, "kurz has no redirect rules: a link redirects every visitor to its long URL", []string{"redirectRules"})
				return
			}
		}
		s.respond(w, http.StatusOK, map[string]any{"defaultLongUrl": l.URL, "redirectRules": []any{}})
	}
}
