package link

import "strings"

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
