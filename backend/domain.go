package backend

import (
	"strings"

	"github.com/kurzlink/kurz/link"
)

// Domains are the short domains one installation serves. The first is the
// default: its links are stored without its name (""), so every link made
// before domains existed is on it, with its code, and renaming it moves them.
type Domains struct {
	names []string // lowercase, the default first
}

// ParseDomains checks a list of host names (no scheme, no port), the
// default first (link.ParseDomains); an empty list is refused.
func ParseDomains(names []string) (Domains, error) {
	list, err := link.ParseDomains(names)
	if err != nil {
		return Domains{}, Errorf(EINVALIDFIELD, "%s", err)
	}
	return Domains{names: list}, nil
}

// Names are the domains' names, the default first.
func (d Domains) Names() []string { return append([]string(nil), d.names...) }

// Name is the name of domain as stored ("" is the default's).
func (d Domains) Name(domain string) string {
	if domain == "" && len(d.names) > 0 {
		return d.names[0]
	}
	return domain
}

// OfHost is the domain a request's Host names, as stored, in any case, with
// or without a port; any host not listed is the default's (""). Traefik's
// Host rules and the edge keep other hosts out; a backend reached by its
// address (health checks, operators) serves the default domain.
func (d Domains) OfHost(host string) string {
	domain, _ := d.stored(link.HostDomain(host))
	return domain
}

// Param is the domain an API request names, as stored: "" or the default's
// name is the default, another listed one itself; any other is EINVALIDFIELD.
func (d Domains) Param(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	if domain, ok := d.stored(strings.ToLower(name)); ok {
		return domain, nil
	}
	return "", Errorf(EINVALIDFIELD, "domain %q is not served here; the domains are %s", name, strings.Join(d.names, ", "))
}

func (d Domains) stored(name string) (string, bool) {
	for i, have := range d.names {
		if have == name {
			if i == 0 {
				return "", true
			}
			return name, true
		}
	}
	return "", false
}
