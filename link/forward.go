package link

import "strings"

// ForwardQueryPrefix starts the cached value (code:{code}) of a link that
// forwards its visitors' query strings: "+https://…". No safe target starts
// with it, so an edge that predates it passes such a link to the backends.
const ForwardQueryPrefix = "+"

// MaxForwardedBytes bounds a Location with a forwarded query: a longer one
// is sent without the query.
const MaxForwardedBytes = 16 << 10

// CachedTarget is the value of code:{code} for target.
func CachedTarget(target string, forwardQuery bool) string {
	if forwardQuery {
		return ForwardQueryPrefix + target
	}
	return target
}

// ParseCachedTarget splits a value of code:{code} into its target and
// whether the link forwards query strings; the target still needs IsSafeTarget.
func ParseCachedTarget(v string) (target string, forwardQuery bool) {
	if strings.HasPrefix(v, ForwardQueryPrefix) {
		return v[len(ForwardQueryPrefix):], true
	}
	return v, false
}

// ForwardQuery appends a visitor's raw query to target, before its fragment:
// after "?" if target has none, else after "&". The target's own parameters
// come first; a query that is empty, holds a control byte or would make the
// Location longer than MaxForwardedBytes leaves target as it is. The edge and
// the backends both call it, so they redirect alike.
func ForwardQuery(target, rawQuery string) string {
	if rawQuery == "" || len(target)+len(rawQuery)+1 > MaxForwardedBytes || strings.ContainsAny(rawQuery, controlBytes+"#") {
		return target
	}
	base, fragment := target, ""
	if i := strings.IndexByte(target, '#'); i >= 0 {
		base, fragment = target[:i], target[i:]
	}
	switch i := strings.IndexByte(base, '?'); {
	case i < 0:
		base += "?"
	case i < len(base)-1 && base[len(base)-1] != '&':
		base += "&"
	}
	return base + rawQuery + fragment
}
