package backend

import (
	"crypto/sha256"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// DefaultMaxURLLength is the longest URL accepted unless configured otherwise.
const DefaultMaxURLLength = 2048

// URLPolicy decides which URLs may be shortened and normalizes them.
type URLPolicy struct {
	MaxLength int // bytes; DefaultMaxURLLength when zero
	// Own lists the shortener's own public URLs: links to the same host and port
	// would loop. localhost, 127.0.0.1 and ::1 count as one host.
	Own []string
	// Blocked lists domains no link may point to; nil blocks nothing.
	Blocked *Blocklist
}

// blocked is EGONE for a link whose target's domain is on the blocklist, else nil.
func (p URLPolicy) blocked(target string) error {
	if p.Blocked != nil && p.Blocked.BlocksURL(target) {
		return Errorf(EGONE, "links to this domain are blocked here")
	}
	return nil
}

// Normalize validates raw and returns its normalized form: lower-case scheme and
// host, no default port, "/" for an empty path. Errors are EINVALIDURL.
func (p URLPolicy) Normalize(raw string) (string, error) {
	max := p.MaxLength
	if max <= 0 {
		max = DefaultMaxURLLength
	}
	switch {
	case raw == "":
		return "", Errorf(EINVALIDURL, "url is required")
	case len(raw) > max:
		return "", Errorf(EINVALIDURL, "url is longer than %d bytes", max)
	case !utf8.ValidString(raw):
		return "", Errorf(EINVALIDURL, "url is not valid UTF-8")
	case strings.IndexFunc(raw, isForbiddenRune) >= 0:
		return "", Errorf(EINVALIDURL, "url contains whitespace or control characters")
	case strings.Contains(raw, "\\"):
		return "", Errorf(EINVALIDURL, "url contains a backslash")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", Errorf(EINVALIDURL, "url cannot be parsed")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", Errorf(EINVALIDURL, "only absolute http and https URLs can be shortened")
	}
	if u.Opaque != "" || !strings.HasPrefix(raw[len(u.Scheme):], "://") {
		return "", Errorf(EINVALIDURL, "url must have the form %s://host/path", scheme)
	}
	if u.User != nil {
		return "", Errorf(EINVALIDURL, "url must not contain credentials")
	}
	host, err := normalizeHost(u.Hostname())
	if err != nil {
		return "", err
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", Errorf(EINVALIDURL, "url has an invalid port")
		}
		port = strconv.Itoa(n)
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if p.isOwn(scheme, host, port) {
		return "", Errorf(EINVALIDURL, "url points back at this shortener")
	}
	if p.Blocked != nil && p.Blocked.Blocks(host) {
		return "", Errorf(EBLOCKED, "links to %s are blocked here", host)
	}
	u.Scheme = scheme
	u.Host = host
	if strings.Contains(host, ":") {
		u.Host = "[" + host + "]"
	}
	if port != "" {
		u.Host += ":" + port
	}
	if u.Path == "" && u.RawPath == "" {
		u.Path = "/"
	}
	// Escaping can lengthen a URL threefold: the limit holds for what is stored and served.
	if out := u.String(); len(out) <= max {
		return out, nil
	}
	return "", Errorf(EINVALIDURL, "url is longer than %d bytes once its special characters are escaped", max)
}

// isOwn reports whether a target at scheme, host and port (empty: the
// scheme's default) reaches this shortener: one of Own's host and port, or
// any other name of a local host, or the http form of an https Own (which
// its HTTPS redirect would send straight back).
func (p URLPolicy) isOwn(scheme, host, port string) bool {
	if port == "" {
		port = defaultPort(scheme)
	}
	for _, own := range p.Own {
		u, err := url.Parse(own)
		if err != nil {
			continue
		}
		ownPort := u.Port()
		if ownPort == "" {
			ownPort = defaultPort(u.Scheme)
		}
		if !sameHost(u.Hostname(), host) {
			continue
		}
		if ownPort == port || (strings.EqualFold(u.Scheme, "https") && scheme == "http" && port == "80") {
			return true
		}
	}
	return false
}

func defaultPort(scheme string) string {
	if strings.EqualFold(scheme, "https") {
		return "443"
	}
	return "80"
}

func sameHost(a, b string) bool {
	a, b = strings.ToLower(strings.TrimSuffix(a, ".")), strings.ToLower(strings.TrimSuffix(b, "."))
	return a == b || isLocalName(a) && isLocalName(b)
}

// isLocalName reports whether h names this machine: loopback names and
// addresses, *.localhost (RFC 6761), and the unspecified addresses, which
// connect to the local host too.
func isLocalName(h string) bool {
	switch h {
	case "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback":
		return true
	}
	if strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// HashURL is the dedup key of a normalized URL on domain: its SHA-256 on
// the default domain (as before domains), with the domain's name first on another.
func HashURL(domain, normalized string) []byte {
	if domain != "" {
		normalized = domain + "\n" + normalized
	}
	sum := sha256.Sum256([]byte(normalized))
	return sum[:]
}

func isForbiddenRune(r rune) bool {
	return r < 0x20 || r == 0x7f || unicode.IsSpace(r) || unicode.Is(unicode.Cc, r) || r == utf8.RuneError
}

// normalizeHost turns a DNS name into lower-case ASCII (IDNA, punycode for
// Unicode labels) or validates an IP literal.
func normalizeHost(host string) (string, error) {
	if host == "" {
		return "", Errorf(EINVALIDURL, "url must have a host")
	}
	if strings.Contains(host, ":") {
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return "", Errorf(EINVALIDURL, "url has an invalid IPv6 host")
		}
		return strings.ToLower(host), nil
	}
	ascii, err := idna.Lookup.ToASCII(host)
	if err != nil || !utf8.ValidString(host) {
		return "", Errorf(EINVALIDURL, "url has an invalid host name")
	}
	host = strings.ToLower(ascii)
	if len(host) > 253 {
		return "", Errorf(EINVALIDURL, "url host is too long")
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if !validLabel(label) {
			return "", Errorf(EINVALIDURL, "url has an invalid host name")
		}
	}
	if looksNumeric(host) && net.ParseIP(host) == nil {
		return "", Errorf(EINVALIDURL, "url has an invalid IPv4 host")
	}
	return host, nil
}

func validLabel(label string) bool {
	if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for _, r := range label {
		if r != '-' && r != '_' && !(r >= 'a' && r <= 'z') && !(r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// looksNumeric reports whether the last label is numeric, which makes the host an IPv4 address per WHATWG.
func looksNumeric(host string) bool {
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	last := labels[len(labels)-1]
	if strings.HasPrefix(last, "0x") {
		return true
	}
	_, err := strconv.ParseUint(last, 10, 64)
	return err == nil
}
