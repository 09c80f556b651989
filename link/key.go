package link

import (
	"fmt"
	"net"
	"strings"
)

// A link is named by its domain and its code. Redis, the hits hash, the
// visits stream and invalidations name it by its key: the code alone on the
// default domain (as before domains existed, so old keys stay valid and the
// edge's default path costs nothing more), "{domain}/{code}" on another.
// No code holds a '/', and no domain is empty.

// Key is the key of code on domain ("" is the default domain).
func Key(domain, code string) string {
	if domain == "" {
		return code
	}
	return domain + "/" + code
}

// SplitKey is Key's inverse: the domain ("" for the default) and the code.
func SplitKey(key string) (domain, code string) {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}

// MaxDomainBytes bounds a domain name (DNS's limit).
const MaxDomainBytes = 253

// IsKey reports whether s has the shape of a key: an alias, or a domain
// name of letters, digits, '-' and '.' (lowercase), '/' and an alias.
func IsKey(s string) bool {
	domain, code := SplitKey(s)
	if !IsAlias(code) {
		return false
	}
	if domain == "" {
		return !strings.Contains(s, "/")
	}
	return IsDomainName(domain)
}

// IsDomainName reports whether s is a lowercase host name as kurz keeps
// domains: labels of a-z, 0-9 and '-', joined by dots, or an IPv4 address.
func IsDomainName(s string) bool {
	if s == "" || len(s) > MaxDomainBytes || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// ParseDomains checks a list of short domains, the default first, as the
// backends (KURZ_DOMAINS) and the edge (domains) both read it: each trimmed
// and lowercased, a domain name, listed once; an empty list is refused.
func ParseDomains(names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("at least one domain is needed")
	}
	out := make([]string, 0, len(names))
	seen := map[string]bool{}
	for _, raw := range names {
		name := strings.ToLower(strings.TrimSpace(raw))
		if !IsDomainName(name) {
			return nil, fmt.Errorf("%q is not a domain name: a host such as go.example.com, without scheme or port", raw)
		}
		if seen[name] {
			return nil, fmt.Errorf("%q is listed twice", name)
		}
		seen[name] = true
		out = append(out, name)
	}
	return out, nil
}

// HostDomain is a request's Host as ParseDomains writes domains: lowercase,
// without its port or a trailing dot.
func HostDomain(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}
