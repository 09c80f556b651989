// Package link is the contract shared by the kurz backend and the Traefik edge
// plugin: the shape of a short code and the Redis keys and values both read and
// write. It imports only the standard library so that Yaegi can load it.
//
// Redis contract:
//
//	code:{code}      string  the target URL, absolute http(s), no CR/LF;
//	                         written by the backend with a TTL of CodeTTL or
//	                         until the link expires; only for links the edge
//	                         may serve as they are (no visit limit, the
//	                         default redirect status). Removed on change.
//	urlhash:{hex}    string  the code of a normalized URL (hex SHA-256);
//	                         the backend's dedup cache, TTL URLHashTTL.
//	kurz:invalidate  channel a code whose link changed or was deleted: the
//	                         edge drops it from its hot cache at once.
//	hits             hash    field {code} → pending redirect count; the edge
//	                         and backends HINCRBY it, one backend at a time
//	                         takes it whole and adds it to Postgres.
package link

import (
	"strings"
	"time"
)

const (
	// CodeLength is the length of every generated short code.
	CodeLength = 7
	// AliasMinLength and AliasMaxLength bound custom codes (aliases). Only
	// CodeLength-long ones are served at the edge; others go to the backend.
	AliasMinLength = 3
	AliasMaxLength = 64
	// Alphabet is URL-safe Base64: 64^7 = 2^42 codes.
	Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

	// CodeKeyPrefix prefixes the Redis key holding a code's target URL.
	CodeKeyPrefix = "code:"
	// URLHashKeyPrefix prefixes the Redis key holding the code of a URL hash.
	URLHashKeyPrefix = "urlhash:"
	// HitsKey is the Redis hash of pending redirect counts by code.
	HitsKey = "hits"
	// InvalidateChannel carries codes whose cached targets must be dropped.
	InvalidateChannel = "kurz:invalidate"

	// CodeTTL is how long a code → URL entry lives in Redis.
	CodeTTL = 24 * time.Hour
	// URLHashTTL is how long a URL hash → code entry lives in Redis.
	URLHashTTL = time.Hour
)

// IsCode reports whether s has the shape of a short code.
func IsCode(s string) bool {
	if len(s) != CodeLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !CodeByte[s[i]] {
			return false
		}
	}
	return true
}

// IsAlias reports whether s has the shape of a generated code or an alias.
func IsAlias(s string) bool {
	if len(s) < AliasMinLength || len(s) > AliasMaxLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !CodeByte[s[i]] {
			return false
		}
	}
	return true
}

// CodeByte[b] is true for the bytes of Alphabet: a table, cheap under Yaegi.
var CodeByte = func() (t [256]bool) {
	for i := 0; i < len(Alphabet); i++ {
		t[Alphabet[i]] = true
	}
	return t
}()

// CodeKey is the Redis key of a code's target URL.
func CodeKey(code string) string { return CodeKeyPrefix + code }

// URLHashKey is the Redis key of the code for a normalized URL's hex hash.
func URLHashKey(hexHash string) string { return URLHashKeyPrefix + hexHash }

// IsSafeTarget reports whether a value read from Redis may be sent as a
// Location: an absolute http or https URL with a host and no control bytes.
// Written for Yaegi: few calls, the scanning done by compiled strings code.
func IsSafeTarget(s string) bool {
	// What follows "http://" or "https://", in any case.
	rest := ""
	if len(s) >= 8 && s[0]|0x20 == 'h' && s[1]|0x20 == 't' && s[2]|0x20 == 't' && s[3]|0x20 == 'p' {
		i := 4
		if s[i]|0x20 == 's' {
			i++
		}
		if len(s) >= i+3 && s[i] == ':' && s[i+1] == '/' && s[i+2] == '/' {
			rest = s[i+3:]
		}
	}
	if rest == "" || rest[0] == '/' || rest[0] == '?' || rest[0] == '#' {
		return false
	}
	if strings.ContainsAny(s, controlBytes) {
		return false
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	return !strings.ContainsAny(host, "@\\")
}

// controlBytes may not appear in a target: they would split or corrupt the header.
const controlBytes = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f" +
	"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f "
