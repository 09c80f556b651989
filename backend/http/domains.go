package http

import (
	"net/http"
	"net/url"

	"github.com/julienschmidt/httprouter"

	"github.com/kurzlink/kurz/link"
)

// hostKey is the key of code on the domain r's Host names.
func (s *server) hostKey(r *http.Request, code string) string {
	return link.Key(s.cfg.Domains.OfHost(r.Host), code)
}

// paramKey is the key of the link the management API's path names, on the
// domain of its ?domain= ("" or the default's name: the default).
func (s *server) paramKey(r *http.Request) (string, error) {
	domain, err := s.cfg.Domains.Param(r.URL.Query().Get("domain"))
	code := httprouter.ParamsFromContext(r.Context()).ByName("code")
	if err != nil || code == "" { // "": every link (stats, visits)
		return "", err
	}
	return link.Key(domain, code), nil
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
