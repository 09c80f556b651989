package plugin

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"sync"
	"time"

	"github.com/kurzlink/kurz/link"
)

const (
	// issuedPoll is how often the edge reads codes:issued and the alias count.
	issuedPoll = 100 * time.Millisecond
	// resubscribeGrace is how long after a subscription began (a Redis
	// restart or failover) the edge answers no 404: the backends re-announce
	// aliases the new master lost within it (their outbox retries every 200 ms).
	resubscribeGrace = 2 * time.Second
	// aliasScanCount is the COUNT of each SSCAN of codes:aliases.
	aliasScanCount = "1000"
)

// codeSpace tells codes that cannot exist without asking Redis: a generated
// code decodes to an id, and no id beyond codes:issued plus
// link.IssuedWindow was handed out; aliases of link.CodeLength characters,
// which decode to nothing, are listed in codes:aliases and announced on the
// invalidation channel. It answers only while its view is complete and
// fresh: subscribed, the aliases loaded since, codes:issued read with its
// own secret's fingerprint within issuedFreshFor. Otherwise every code goes
// on to Redis and the backends, as without it.
type codeSpace struct {
	codec *link.Codec
	keys  [8]uint64 // the round keys, for absent's inlined copy of Unpermute

	mu          sync.Mutex
	limit       int64           // codes:issued + link.IssuedWindow
	freshUntil  time.Time       // the last good read of codes:issued + issuedFreshFor
	aliases     map[string]bool // only grows: an alias never becomes a generated code
	subscribed  bool
	graceUntil  time.Time // no 404 before: the subscription began + resubscribeGrace
	generation  int64     // subscriptions begun
	loaded      bool      // aliases loaded since the subscription began and codes:issued was there
	loadedCount int64     // SCARD when loaded, plus the aliases announced since
	answered    int64     // 404s answered
	mismatch    bool      // codes:issued names another secret (logged once)
	notFound    []string  // where the default domain sends unknown codes (link.NotFoundRedirectKey); nil: 404
}

func newCodeSpace(codec *link.Codec) *codeSpace {
	return &codeSpace{codec: codec, keys: codec.RoundKeys(), aliases: map[string]bool{}}
}

// Constants of link.Codec's rounds, for absent's inlined copy.
const (
	roundMask = 1<<21 - 1
	roundMul1 = 0xbf58476d1ce4e5b9
	roundMul2 = 0x94d049bb133111eb
)

// absent reports whether no link can have code.
// It holds inlined copies of link.Codec's Decode and Unpermute, the rounds
// unrolled: under Yaegi every call and loop turn costs more than the
// arithmetic. Keep them alike.
func (s *codeSpace) absent(code string) (bool, []string) {
	// link.Alphabet is base64url's: one compiled call decodes the 42 bits
	// (and refuses any other byte); "A" pads them to 48.
	b, err := base64.RawURLEncoding.DecodeString(code + "A")
	if err != nil || len(b) != 6 {
		return false, nil
	}
	v := binary.BigEndian.Uint64(append(b, 0, 0)) >> 22
	l, r := v>>21&roundMask, v&roundMask
	for i := len(s.keys) - 1; i >= 0; i-- {
		z := l ^ s.keys[i]
		z = (z ^ z>>30) * roundMul1
		z = (z ^ z>>27) * roundMul2
		l, r = r^(z^z>>31)&roundMask, l
	}
	id := int64(l<<21 | r)
	now := time.Now()
	s.mu.Lock()
	absent := id > s.limit && s.loaded && s.subscribed && now.Before(s.freshUntil) && now.After(s.graceUntil) && !s.aliases[code]
	notFound := s.notFound
	s.mu.Unlock()
	return absent, notFound
}

// subscription records that the invalidation subscription began (the
// aliases must be loaded again: announcements may have been missed) or ended.
func (s *codeSpace) subscription(on bool) {
	s.mu.Lock()
	s.subscribed, s.loaded = on, false
	if on {
		s.generation++
		s.graceUntil = time.Now().Add(resubscribeGrace)
	}
	s.mu.Unlock()
}

// announced lists a code announced on the invalidation channel if it
// decodes beyond the issued ids: a new alias.
// It reports whether the code is a listed alias, which the edge acknowledges.
func (s *codeSpace) announced(code string) bool {
	id, ok := s.codec.Decode(code)
	if !ok {
		return false
	}
	s.mu.Lock()
	listed := s.aliases[code]
	if id > s.limit-link.IssuedWindow && !listed {
		s.aliases[code] = true
		s.loadedCount++
		listed = true
	}
	s.mu.Unlock()
	return listed
}

// watch keeps the view fresh for the life of the process.
func (e *edge) watchCodeSpace() {
	for {
		e.refreshCodeSpace()
		time.Sleep(issuedPoll)
	}
}

// refreshCodeSpace reads codes:issued and the alias count, and loads the
// aliases when they may have changed unseen.
func (e *edge) refreshCodeSpace() {
	s := e.space
	calls, err := e.redis.doAll([][]string{{"GET", link.CodesIssuedKey}, {"SCARD", link.CodesAliasesKey}, {"GET", link.NotFoundRedirectKey}})
	if err != nil {
		return
	}
	var notFound []string
	if to := calls[2]; to.err == nil && !to.isNil && to.val != "" {
		if link.IsSafeTarget(to.val) {
			notFound = []string{to.val}
		} else {
			logger.Printf("refusing unsafe value of %s (%.60q): unknown codes are answered 404", link.NotFoundRedirectKey, to.val)
		}
	}
	s.mu.Lock()
	s.notFound = notFound
	s.mu.Unlock()
	fingerprint, issued, ok := link.ParseIssued(calls[0].val)
	if calls[0].err != nil || calls[0].isNil || !ok {
		s.mu.Lock()
		s.loaded = false // Redis lost it: a backend refills the aliases before it is back
		s.mu.Unlock()
		return
	}
	if fingerprint != s.codec.Fingerprint() {
		s.mu.Lock()
		logIt := !s.mismatch
		s.mismatch, s.loaded = true, false
		s.mu.Unlock()
		if logIt {
			logger.Printf("codes:issued names the code secret %s, this edge has %s: set the backends' KURZ_CODE_SECRET as codeSecret; unknown codes go to the backends meanwhile", fingerprint, s.codec.Fingerprint())
		}
		return
	}
	count := calls[1].n // 0 for a key of another type (an error reply): then nothing is loaded
	s.mu.Lock()
	s.mismatch = false
	needLoad := s.subscribed && (!s.loaded || count > s.loadedCount)
	s.mu.Unlock()
	if needLoad && !e.loadAliases(count) {
		return
	}
	s.mu.Lock()
	s.limit = issued + link.IssuedWindow
	s.freshUntil = time.Now().Add(link.IssuedFreshFor)
	s.mu.Unlock()
}

// loadAliases adds every member of codes:aliases to the view; false if Redis failed.
func (e *edge) loadAliases(count int64) bool {
	s := e.space
	s.mu.Lock()
	generation := s.generation
	s.mu.Unlock()
	cursor := "0"
	var codes []string
	for {
		c, err := e.redis.do("SSCAN", link.CodesAliasesKey, cursor, "COUNT", aliasScanCount)
		if err != nil || len(c.elems) == 0 {
			return false
		}
		cursor = c.elems[0]
		for _, code := range c.elems[1:] {
			if link.IsCode(code) {
				codes = append(codes, code)
			}
		}
		if cursor == "0" {
			break
		}
		if _, err := strconv.ParseUint(cursor, 10, 64); err != nil {
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, code := range codes {
		s.aliases[code] = true
	}
	// Loaded only if the subscription that needed it is still the one open.
	if s.subscribed && s.generation == generation {
		s.loaded, s.loadedCount = true, count
	}
	return s.loaded
}
