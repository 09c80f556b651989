// Package link is the contract shared by the kurz backend and the Traefik edge
// plugin: the shape of a short code and the Redis keys and values both read and
// write. It imports only the standard library so that Yaegi can load it.
//
// Redis contract:
//
//	code:{code}      string  the target URL, absolute http(s), no CR/LF,
//	                         after "+" for a link that forwards query
//	                         strings (CachedTarget, ParseCachedTarget);
//	                         written by the backend with a TTL of CodeTTL or
//	                         until the link expires; only for links the edge
//	                         may serve as they are (no visit limit, the
//	                         default redirect status). Removed on change.
//	urlhash:{hex}    string  the code of a normalized URL (hex SHA-256);
//	                         the backend's dedup cache, TTL URLHashTTL.
//	ver:{code}       string  the newest version of the link that Redis has
//	                         seen (a Postgres sequence value); a fill with an
//	                         older version is refused, so a slow fill cannot
//	                         bring back what a change removed. Outlives a
//	                         deletion by TombstoneTTL.
//	kurz:invalidate  channel a code whose link changed or was deleted: the
//	                         edge drops it from its hot cache at once.
//	hits             hash    field {code or alias} → pending visit count;
//	                         edges and backends add to it only through
//	                         AddHitsScript, once per batch id.
//	hits:pushed      zset    the ids of the batches added, scored by when
//	                         (Redis's clock, ms); kept HitsPushedTTL. No TTL
//	                         of its own, so volatile-lru never evicts it.
//	hits:folding     string  the name of the batch being folded into Postgres.
//	hits:batch:{id}  hash    a taken copy of hits, deleted after its commit.
//	hits:lease       string  the backend folding now (HitsLeaseTTL).
//	codes:issued     string  "{codec fingerprint} {id}": no generated code has
//	                         an id above id + IssuedWindow; raised by backends
//	                         (RaiseIssuedScript), never lowered.
//	domains:notfound string  where the default domain sends codes it has no
//	                         link for (a safe target); absent: 404. Set by
//	                         backends every few seconds from Postgres.
//	codes:aliases    set     every alias of CodeLength characters (they
//	                         decode to no id); added to before the create is
//	                         answered, and announced on kurz:invalidate.
//
// With both, the edge answers 404 for a code that cannot exist (see Issued).
package link

import (
	"strconv"
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
	// VersionKeyPrefix prefixes the newest version of a code Redis has seen.
	VersionKeyPrefix = "ver:"
	// HitsKey is the Redis hash of pending visit counts by code.
	HitsKey = "hits"
	// HitsPushedKey remembers the pushed batches of hits, so a retry adds nothing.
	HitsPushedKey = "hits:pushed"
	// HitsFoldingKey names the taken batch being folded into Postgres.
	HitsFoldingKey = "hits:folding"
	// HitsBatchKeyPrefix prefixes a taken batch.
	HitsBatchKeyPrefix = "hits:batch:"
	// HitsLeaseKey holds the backend that folds batches now.
	HitsLeaseKey = "hits:lease"
	// InvalidateChannel carries codes whose cached targets must be dropped,
	// and new aliases of CodeLength characters.
	InvalidateChannel = "kurz:invalidate"
	// CodesIssuedKey holds the codec's fingerprint and the highest id handed out.
	CodesIssuedKey = "codes:issued"
	// NotFoundRedirectKey holds where the default domain sends unknown codes.
	NotFoundRedirectKey = "domains:notfound"
	// CodesAliasesKey is the set of aliases of CodeLength characters.
	CodesAliasesKey = "codes:aliases"
	// OtherAliasesKey is the set of aliases of every other length: while
	// codes:issued is there, a backend answers 404 for one not in it without
	// asking Postgres.
	OtherAliasesKey = "codes:aliases:other"
	// AnnouncedKeyPrefix + alias counts the edges that listed an announced
	// alias: the create waits for every subscribed edge (AnnounceAckWait at most).
	AnnouncedKeyPrefix = "codes:announced:"

	// CodeTTL is how long a code → URL entry lives in Redis.
	CodeTTL = 24 * time.Hour
	// URLHashTTL is how long a URL hash → code entry lives in Redis.
	URLHashTTL = time.Hour
	// TombstoneTTL is how long ver:{code} outlives a change: longer than any
	// fill can take (a Postgres read and a Redis write, each with a timeout).
	TombstoneTTL = time.Hour
	// HitsPushedTTL is how long a pushed batch id is remembered; a pusher
	// retries a batch until it is acknowledged, far sooner than this.
	HitsPushedTTL = time.Hour
	// HitsLeaseTTL is how long a folding backend that stopped answering keeps
	// others from taking over its batch.
	HitsLeaseTTL = 5 * time.Second

	// MaxTargetBytes is the longest target the edge and the backend read from
	// Redis: the edge's reader refuses a longer value from its length, the
	// backend asks for one byte more (GETRANGE) and refuses that.
	MaxTargetBytes = 8 << 10
	// MaxHitsPerField bounds one pending count; a larger one is malformed.
	MaxHitsPerField = 1 << 40
	// MaxHitsPerPush bounds the codes of one AddHitsScript call, edge's and backend's alike.
	MaxHitsPerPush = 2000

	// IssuedWindow is how far ids may run ahead of codes:issued: backends
	// raise it every IssuedRaiseInterval and on every block of ids they
	// reserve, so a link made a moment ago is inside the window. A random
	// code is inside it with odds of about (ids + window) / 2^42.
	IssuedWindow = 1 << 20
	// IssuedRaiseInterval is how often every backend raises codes:issued
	// from the sequence (after a lost Redis, within this much).
	IssuedRaiseInterval = 250 * time.Millisecond
	// IssuedFreshFor is how long the edge trusts a read of codes:issued. A
	// backend whose announcement of a new alias failed waits this long
	// before answering the create: no edge still trusts a view without it.
	IssuedFreshFor = 400 * time.Millisecond
)

// RaiseIssuedScript raises codes:issued to a fingerprint and an id, never
// lowering it for the same fingerprint. A missing key is only created when
// ARGV[3] is "1": Redis lost it, so the alias set may be gone too, and it is
// refilled first. KEYS: codes:issued. ARGV: fingerprint, id, create.
// Returns 2 if the key is missing (and was not created), 1 if raised or
// created, 0 if it was high enough.
const RaiseIssuedScript = `
local v = redis.call('GET', KEYS[1])
if v then
  local fp, n = string.match(v, '^(%x+) (%d+)$')
  if fp == ARGV[1] and tonumber(n) >= tonumber(ARGV[2]) then return 0 end
elseif ARGV[3] ~= '1' then
  return 2
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
return 1`

// FormatIssued is the value of codes:issued.
func FormatIssued(fingerprint string, id int64) string {
	return fingerprint + " " + strconv.FormatInt(id, 10)
}

// ParseIssued reads a value of codes:issued; ok is false for anything else.
func ParseIssued(v string) (fingerprint string, id int64, ok bool) {
	i := strings.IndexByte(v, ' ')
	if i <= 0 {
		return "", 0, false
	}
	id, err := strconv.ParseInt(v[i+1:], 10, 64)
	if err != nil || id < 0 {
		return "", 0, false
	}
	return v[:i], id, true
}

// AddHitsScript adds a batch of visit counts to the hits hash once, however
// often the batch is sent: a pusher whose reply was lost sends it again with
// the same id. A field that is not a number (or would overflow) is replaced
// by the new count, so one corrupt field never blocks the others; so is a
// hits key of another type.
// KEYS: hits, hits:pushed. ARGV: TTL in ms, the batch id, then code, count pairs.
// Returns -1 if the batch was added before, else how many fields were replaced.
const AddHitsScript = claimBatch + `
local t = redis.call('TYPE', KEYS[1]).ok
local replaced = 0
if t ~= 'hash' and t ~= 'none' then
  redis.call('DEL', KEYS[1])
  replaced = replaced + 1
end
for i = 3, #ARGV, 2 do
  local ok = redis.pcall('HINCRBY', KEYS[1], ARGV[i], ARGV[i+1])
  if type(ok) == 'table' and ok.err then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1])
    replaced = replaced + 1
  end
end
return replaced`

// claimBatch starts the push scripts: it records the batch id ARGV[2] in the
// sorted set KEYS[2], scored by Redis's clock, and returns -1 when it was
// there already. Ids older than ARGV[1] ms are forgotten; a key of another
// type in the set's place is replaced. A set without a TTL, not a key per
// batch with one: Redis short of memory evicts keys with a TTL, and a
// forgotten batch would be counted again when resent. A resend refreshes
// the id's score: a write, so that a WAIT after it on a new connection
// waits for the replicas to have the first push too.
const claimBatch = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local kind = redis.call('TYPE', KEYS[2]).ok
if kind ~= 'zset' and kind ~= 'none' then redis.call('DEL', KEYS[2]) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ms - tonumber(ARGV[1]))
if redis.call('ZADD', KEYS[2], 'NX', ms, ARGV[2]) == 0 then
  redis.call('ZADD', KEYS[2], 'XX', ms, ARGV[2])
  return -1
end
`

// AliasesKeyOf is the set an alias is listed in: CodesAliasesKey, which
// the edge reads, for one of CodeLength characters, else OtherAliasesKey.
func AliasesKeyOf(alias string) string {
	if len(alias) == CodeLength {
		return CodesAliasesKey
	}
	return OtherAliasesKey
}

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

// AnnouncedKey counts the edges that listed the announced alias code.
func AnnouncedKey(code string) string { return AnnouncedKeyPrefix + code }

const (
	// AnnouncedTTL is how long an announcement's count of edges lives.
	AnnouncedTTL = 10 * time.Second
	// AnnounceAckWait bounds how long a create of an alias waits for the
	// edges to list it: an edge that has not may answer it 404 meanwhile.
	AnnounceAckWait = time.Second
)

// VersionKey is the Redis key of the newest version of code Redis has seen.
func VersionKey(code string) string { return VersionKeyPrefix + code }

// URLHashKey is the Redis key of the code for a normalized URL's hex hash.
func URLHashKey(hexHash string) string { return URLHashKeyPrefix + hexHash }

// IsSafeTarget reports whether a value read from Redis may be sent as a
// Location: an absolute http or https URL with a host, no control bytes, no
// backslash or credentials in the host, at most MaxTargetBytes long. The edge
// and the backend both check cached targets with it, so they agree.
// Written for Yaegi: few calls, the scanning done by compiled strings code.
func IsSafeTarget(s string) bool {
	if len(s) > MaxTargetBytes {
		return false
	}
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

// RedirectStatuses names the statuses IsRedirectStatus accepts, for error messages.
const RedirectStatuses = "301, 302, 307 or 308"

// IsRedirectStatus reports whether status may answer a redirect: the one
// list the edge, the backends' setting and a link's own status are checked against.
func IsRedirectStatus(status int) bool {
	return status == 301 || status == 302 || status == 307 || status == 308
}
