package http

import (
	"net/http"
	"net/url"

	"github.com/julienschmidt/httprouter"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

// hostKey is the key of code on the domain r's Host names.
func (s *server) hostKey(r *http.Request, code string) string {
	return link.Key(s.cfg.Domains.OfHost(r.Host), code)
}

// queryDomain is the domain a request's ?domain= names, as stored (nil when
// absent; "" or the default's name: the default), or why it is not served.
func (s *server) queryDomain(r *http.Request) (*string, error) {
	name := r.URL.Query().Get("domain")
	if name == "" {
		return nil, nil
	}
	domain, err := s.cfg.Domains.Param(name)
	return &domain, err
}

// paramKey is the key of the link the management API's path names, on the
// domain of its ?domain= (absent: the default); "" without a code (every link).
func (s *server) paramKey(r *http.Request) (string, error) {
	domain, err := s.queryDomain(r)
	code := httprouter.ParamsFromContext(r.Context()).ByName("code")
	if err != nil || code == "" {
		return "", err
	}
	if domain == nil {
		return code, nil
	}
	return link.Key(*domain, code), nil
}

// shortURL is the short URL of code on domain: the public URL, its host
// replaced by the domain's name on another domain (scheme and port kept).
func (s *server) shortURL(domain, code string) string {
	if domain == "" {
		return s.cfg.PublicURL + "/" + code
	}
	u, err := url.Parse(s.cfg.PublicURL)
	if err != nil {
		return s.cfg.PublicURL + "/" + code
	}
	host := domain
	if port := u.Port(); port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host + "/" + code
}

// domainJSON is a served domain and its redirects.
type domainJSON struct {
	Domain    string        `json:"domain"`
	Default   bool          `json:"default"`
	Redirects redirectsJSON `json:"redirects"`
}

type redirectsJSON struct {
	Root     *string `json:"root"`      // null: the page
	NotFound *string `json:"not_found"` // null: the 404
}

func toRedirectsJSON(r backend.DomainRedirects) redirectsJSON {
	var j redirectsJSON
	if r.Root != "" {
		j.Root = &r.Root
	}
	if r.NotFound != "" {
		j.NotFound = &r.NotFound
	}
	return j
}

// handleDomains lists the served domains, the default first, with their redirects.
func (s *server) handleDomains() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var res struct {
			Domains []domainJSON `json:"domains"`
		}
		for _, name := range s.cfg.Domains.Names() {
			domain, _ := s.cfg.Domains.Param(name) // as stored: "" for the default
			if actorOf(r).ReachesDomain(domain) {
				res.Domains = append(res.Domains, domainJSON{Domain: name, Default: domain == "", Redirects: toRedirectsJSON(s.cfg.Redirects.For(domain))})
			}
		}
		s.respond(w, http.StatusOK, res)
	}
}

// handleSetDomainRedirects sets a domain's redirects: {"domain", "root",
// "not_found"}, each URL or null (none); the domain absent is the default.
func (s *server) handleSetDomainRedirects() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Domain   string  `json:"domain"`
			Root     *string `json:"root"`
			NotFound *string `json:"not_found"`
		}
		if err := s.decode(w, r, &req); err != nil {
			s.error(w, r, err)
			return
		}
		domain, err := s.cfg.Domains.Param(req.Domain)
		if err != nil {
			s.error(w, r, err)
			return
		}
		set := backend.DomainRedirects{Root: deref(req.Root), NotFound: deref(req.NotFound)}
		got, err := s.cfg.Redirects.Set(r.Context(), actorOf(r), domain, set)
		if err != nil {
			s.error(w, r, err)
			return
		}
		s.respond(w, http.StatusOK, domainJSON{Domain: s.cfg.Domains.Name(domain), Default: domain == "", Redirects: toRedirectsJSON(got)})
	}
}

// domainRedirect sends a visitor where the Host's domain sends this case
// (pick: root or not found), and reports whether it did.
func (s *server) domainRedirect(w http.ResponseWriter, r *http.Request, pick func(backend.DomainRedirects) string) bool {
	if s.cfg.Redirects == nil {
		return false
	}
	to := pick(s.cfg.Redirects.For(s.cfg.Domains.OfHost(r.Host)))
	if to == "" {
		return false
	}
	w.Header().Set("Location", to)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
	return true
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
