package backend

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kurzlink/kurz/link"
)

// Shortener creates, resolves and manages links: Postgres is the truth, Redis
// a cache in front of it whose failures only cost speed.
type Shortener struct {
	store    LinkStore
	cache    LinkCache
	codec    *link.Codec
	policy   URLPolicy
	hits     *HitCounter
	inval    *Invalidator
	logger   *slog.Logger
	redirect int // the default redirect status, the edge's too
	now      func() time.Time
	// Visits holds the visit analytics Stats reads; nil: none.
	Visits VisitStore

	mu  sync.Mutex
	ids []int64 // reserved sequence ids not yet used
}

// IDBlock is how many sequence ids one round trip reserves.
const IDBlock = 16

func NewShortener(store LinkStore, cache LinkCache, codec *link.Codec, policy URLPolicy, hits *HitCounter, inval *Invalidator, defaultRedirect int, logger *slog.Logger) *Shortener {
	return &Shortener{store: store, cache: cache, codec: codec, policy: policy, hits: hits, inval: inval,
		redirect: defaultRedirect, logger: logger, now: time.Now}
}

// Shorten returns the link asked for; a plain URL that exists already gives
// its link (created false), anything else makes a new one.
func (s *Shortener) Shorten(ctx context.Context, req CreateRequest) (Link, bool, error) {
	normalized, err := s.policy.Normalize(req.URL)
	if err != nil {
		return Link{}, false, err
	}
	if err := s.validateOptions(req); err != nil {
		return Link{}, false, err
	}
	meta, err := req.Meta.normalized()
	if err != nil {
		return Link{}, false, err
	}
	l := Link{Domain: req.Domain, URL: normalized, URLHash: HashURL(req.Domain, normalized), Dedup: req.Plain(),
		ExpiresAt: req.ExpiresAt, MaxVisits: req.MaxVisits, Redirect: req.Redirect, OwnerKeyID: req.Owner, Meta: meta}
	if err := l.CheckWindow(); err != nil {
		return Link{}, false, err
	}
	if req.Reuse == ReuseMatching {
		if found, ok, err := s.findMatching(ctx, l, req.Alias); err != nil || ok {
			return found, false, err
		}
	}
	if l.Dedup {
		if code, err := s.cache.CodeForHash(ctx, l.URLHash); err != nil {
			s.logger.Warn("redis dedup lookup failed, using postgres", "err", err)
		} else if code != "" && !link.IsAlias(code) {
			s.logger.Warn("refusing a malformed dedup entry from redis, using postgres", "bytes", len(code))
		} else if code != "" {
			l.Code = code
			return l, false, nil
		}
	}
	l, created, err := s.create(ctx, l, req.Alias)
	if err != nil {
		return Link{}, false, err
	}
	s.fillCache(ctx, l, true)
	return l, created, nil
}

// findMatching finds a link like l — same URL and domain, and the same
// alias, tags, visit limit and validity window — of the same owner, as
// Shlink's findIfExists does.
func (s *Shortener) findMatching(ctx context.Context, l Link, alias string) (Link, bool, error) {
	links, err := s.store.FindByURL(ctx, l.Domain, l.URLHash)
	if err != nil {
		return Link{}, false, err
	}
	for _, c := range links {
		if c.URL == l.URL && (alias == "" || c.Code == alias) && slices.Equal(c.Tags, l.Tags) && equalPtr(c.MaxVisits, l.MaxVisits) &&
			equalTime(c.ValidSince, l.ValidSince) && equalTime(c.ExpiresAt, l.ExpiresAt) && equalPtr(c.OwnerKeyID, l.OwnerKeyID) {
			return c, true, nil
		}
	}
	return Link{}, false, nil
}

func equalPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func equalTime(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }

// Suggest returns what a person probably meant by raw when it lacks a
// scheme ("example.com" → "https://example.com/"), if that would be
// accepted; "" otherwise. The page offers it; the API stays strict.
func (s *Shortener) Suggest(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" || strings.Contains(raw, "://") || strings.HasPrefix(raw, "//") {
		return ""
	}
	if i := strings.IndexAny(raw, ":/"); i >= 0 && raw[i] == ':' && !strings.ContainsAny(raw[:i], ".") {
		return "" // a scheme of another kind (javascript:, mailto:), not a host
	}
	normalized, err := s.policy.Normalize("https://" + raw)
	if err != nil {
		return ""
	}
	return normalized
}

func (s *Shortener) validateOptions(req CreateRequest) error {
	if req.Alias != "" {
		if err := ValidateAlias(req.Alias); err != nil {
			return err
		}
	}
	if req.ExpiresAt != nil && !req.ExpiresAt.After(s.now()) {
		return FieldErrorf("expires_at", "expires_at must be in the future")
	}
	if req.MaxVisits != nil && *req.MaxVisits <= 0 {
		return FieldErrorf("max_visits", "max_visits must be a positive number")
	}
	if req.Redirect != 0 && !link.IsRedirectStatus(req.Redirect) {
		return FieldErrorf("redirect", "redirect must be %s", link.RedirectStatuses)
	}
	return nil
}

// create inserts the link; a generated code that is taken (an alias, or a
// changed secret) moves on to the next id, a taken alias is ECONFLICT.
func (s *Shortener) create(ctx context.Context, l Link, alias string) (Link, bool, error) {
	for attempt := 0; ; attempt++ {
		id, err := s.nextID(ctx)
		if err != nil {
			return Link{}, false, err
		}
		l.ID, l.Code = id, alias
		if alias == "" {
			if l.Code, err = s.codec.Encode(id); err != nil {
				return Link{}, false, Wrap(EINTERNAL, err, "internal error")
			}
		}
		stored, created, err := s.insert(ctx, l, alias != "")
		if ErrorCode(err) == ECONFLICT && alias == "" && attempt < 3 {
			s.logger.Warn("generated code already taken (an alias, or a changed code secret)", "code", l.Code)
			continue
		}
		if ErrorCode(err) == ECONFLICT && alias != "" {
			s.giveBackID(id)
			return Link{}, false, Errorf(ECONFLICT, "the alias %q is taken", alias)
		}
		if err != nil || !created {
			s.giveBackID(id)
		}
		return stored, created, err
	}
}

// insert stores l. An alias is listed before the create is answered (stored
// with it, and retried in the background if Redis does not answer): one of
// link.CodeLength characters, which the edge cannot decode, is announced to
// the edges; the others are listed for the backends' redirects.
func (s *Shortener) insert(ctx context.Context, l Link, isAlias bool) (Link, bool, error) {
	if !isAlias {
		return s.store.CreateLink(ctx, l)
	}
	stored, inv, err := s.store.CreateAlias(ctx, l)
	if err != nil {
		return Link{}, false, err
	}
	if len(stored.Key()) != link.CodeLength { // not one the edge decodes: another length, or another domain
		if err := s.inval.Apply(ctx, inv); err != nil {
			s.logger.Warn("listing a new alias failed; retried in the background", "key", stored.Key(), "err", err)
		}
		return stored, true, nil
	}
	started := time.Now()
	if s.inval.Apply(ctx, inv) != nil {
		// Meanwhile no edge may still trust a view without it.
		time.Sleep(time.Until(started.Add(link.IssuedFreshFor)))
	} else if err := s.cache.AwaitAnnounced(ctx, stored.Key(), link.AnnounceAckWait); err != nil {
		s.logger.Warn("not every edge listed a new alias in time; it may answer it 404 for a moment", "code", stored.Code, "err", err)
	}
	return stored, true, nil
}

func (s *Shortener) nextID(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ids) == 0 {
		ids, err := s.store.NextIDs(ctx, IDBlock)
		if err != nil {
			return 0, err
		}
		s.ids = ids
		// Before any of them is used: the edge then knows them at once (else
		// within link.IssuedRaiseInterval, inside link.IssuedWindow).
		if _, err := s.cache.RaiseIssued(ctx, s.codec.Fingerprint(), ids[len(ids)-1], false); err != nil {
			s.logger.Debug("raising the issued codes failed; the edge's window covers it", "err", err)
		}
	}
	id := s.ids[0]
	s.ids = s.ids[1:]
	return id, nil
}

// giveBackID keeps an id that no row took, so deduplicated posts burn no codes.
func (s *Shortener) giveBackID(id int64) {
	s.mu.Lock()
	s.ids = append([]int64{id}, s.ids...)
	s.mu.Unlock()
}

// cacheTTL is how long l may sit in Redis where the edge serves it: never
// when each visit must be checked (a visit limit, or a status of its own),
// else until it expires, at most a day.
func (s *Shortener) cacheTTL(l Link) time.Duration {
	if l.Disabled || l.MaxVisits != nil || (l.Redirect != 0 && l.Redirect != s.redirect) || l.NotYetValid(s.now()) || s.policy.blocked(l.URL) != nil {
		return 0
	}
	ttl := link.CodeTTL
	if l.ExpiresAt != nil {
		ttl = min(ttl, l.ExpiresAt.Sub(s.now()))
	}
	return max(ttl, 0)
}

// fillCache caches l (with its dedup entry if withHash) unless the cache
// has seen a newer version of it; false only when it has.
func (s *Shortener) fillCache(ctx context.Context, l Link, withHash bool) bool {
	ttl := s.cacheTTL(l)
	if ttl <= 0 {
		return true
	}
	filled, err := s.cache.SetLink(ctx, l, ttl, withHash && l.Dedup)
	if err != nil {
		s.logger.Warn("redis fill failed", "key", l.Key(), "err", err)
		return true
	}
	return filled
}

// Resolve returns the target and redirect status of the link of key
// (link.Key) and counts the visit; a link that forwards query strings gets
// the visitor's rawQuery.
func (s *Shortener) Resolve(ctx context.Context, key, rawQuery string) (string, int, error) {
	if !link.IsKey(key) {
		return "", 0, Errorf(ENOTFOUND, link.NotFoundMessage)
	}
	cached, err := s.cache.URL(ctx, key)
	if err != nil {
		s.logger.Warn("redis lookup failed, using postgres", "err", err)
	}
	url, forward := link.ParseCachedTarget(cached)
	if url != "" && !link.IsSafeTarget(url) { // the edge's own check: a bad value is a miss, repaired below
		s.logger.Warn("refusing an unsafe cached target, using postgres", "key", key, "bytes", len(url))
		url = ""
	}
	if url != "" { // only links the edge may serve are cached
		if err := s.policy.blocked(url); err != nil {
			return "", 0, err
		}
		s.hits.Record(key)
		return forwarded(url, forward, rawQuery), s.redirect, nil
	}
	// A storm of such paths must not reach Postgres: aliases of other lengths,
	// and on other domains every alias, are listed; generated codes are issued.
	if domain, c := link.SplitKey(key); (len(c) != link.CodeLength || domain != "") && err == nil {
		if unlisted, err := s.cache.AliasUnlisted(ctx, key); err == nil && unlisted && (len(c) != link.CodeLength || s.neverIssued(ctx, c)) {
			return "", 0, Errorf(ENOTFOUND, link.NotFoundMessage)
		}
	}
	l, stale, err := s.store.ReadLink(ctx, key)
	if err != nil {
		return "", 0, noLink(err)
	}
	if stale && (s.cacheTTL(l) <= 0 || !s.fillCache(ctx, l, false)) {
		// A lagging replica may miss a change: answers not served from the
		// cache, and fills Redis refuses as older than a change, go by the primary.
		if l, err = s.store.FindByCode(ctx, key); err != nil {
			return "", 0, noLink(err)
		}
		stale = false
	}
	status := s.statusOf(l)
	if l.NotYetValid(s.now()) { // as if it did not exist yet, as Shlink answers
		return "", 0, Errorf(ENOTFOUND, link.NotFoundMessage)
	}
	if l.Disabled || l.Expired(s.now()) {
		return "", 0, l.Gone(s.now())
	}
	if err := s.policy.blocked(l.URL); err != nil {
		return "", 0, err
	}
	if l.MaxVisits != nil {
		url, err := s.store.Visit(ctx, key) // counted now, atomically with the limit
		return forwarded(url, l.ForwardQuery, rawQuery), status, noLink(err)
	}
	if !stale {
		s.fillCache(ctx, l, false)
	}
	s.hits.Record(key)
	return forwarded(l.URL, l.ForwardQuery, rawQuery), status, nil
}

// neverIssued reports whether no generated code is code: its id is beyond
// codes:issued's window (read with this secret's fingerprint).
func (s *Shortener) neverIssued(ctx context.Context, code string) bool {
	id, ok := s.codec.Decode(code)
	if !ok {
		return true
	}
	fingerprint, issued, known, err := s.cache.Issued(ctx)
	return err == nil && known && fingerprint == s.codec.Fingerprint() && id > issued+link.IssuedWindow
}

// forwarded is target with rawQuery appended if the link forwards query strings.
func forwarded(target string, forward bool, rawQuery string) string {
	if !forward || target == "" {
		return target
	}
	return link.ForwardQuery(target, rawQuery)
}

func (s *Shortener) statusOf(l Link) int {
	if l.Redirect != 0 {
		return l.Redirect
	}
	return s.redirect
}

// Get returns the link of key (link.Key) with its counts so far (from a read
// replica if there is one), if actor may manage it: to others it does not exist.
func (s *Shortener) Get(ctx context.Context, actor Actor, code string) (Link, error) {
	if !link.IsKey(code) {
		return Link{}, Errorf(ENOTFOUND, link.NotFoundMessage)
	}
	l, _, err := s.store.ReadLink(ctx, code)
	if err == nil && !actor.CanManage(l) {
		return Link{}, Errorf(ENOTFOUND, link.NotFoundMessage)
	}
	return l, noLink(err)
}

// noLink words a store's "not found" as the edge does, so both answer alike.
func noLink(err error) error {
	if ErrorCode(err) == ENOTFOUND {
		return Wrap(ENOTFOUND, err, link.NotFoundMessage)
	}
	return err
}

// Lookup checks that the key code names a live link, without counting a visit.
func (s *Shortener) Lookup(ctx context.Context, code string) (Link, error) {
	l, err := s.Get(ctx, system, code)
	if err == nil && l.NotYetValid(s.now()) {
		err = Errorf(ENOTFOUND, link.NotFoundMessage)
	}
	if err == nil {
		err = l.Gone(s.now())
	}
	if err == nil {
		err = s.policy.blocked(l.URL)
	}
	return l, err
}

// EnforceBlocklist takes the links to newly blocked domains out of every
// cache, the edges' included; from then on they answer 410 (Resolve checks
// the blocklist, and such links are never cached again).
func (s *Shortener) EnforceBlocklist(ctx context.Context, domains []string) {
	invs, err := s.store.BlockLinksTo(ctx, domains)
	if err != nil {
		s.logger.Error("finding the links to newly blocked domains failed; they stay cached until their TTL", "err", err)
		return
	}
	for _, inv := range invs {
		s.inval.Apply(ctx, inv) // stored: retried in the background if Redis does not take it now
	}
	s.logger.Info("links to newly blocked domains taken out of the caches", "domains", len(domains), "links", len(invs))
}

// List returns a page of the links actor may manage, newest first, and the cursor of the next page.
func (s *Shortener) List(ctx context.Context, actor Actor, q ListQuery) ([]Link, string, error) {
	if q.Limit <= 0 || q.Limit > 100 {
		q.Limit = 20
	}
	if q.Page != nil || q.Ascending || (q.Order != OrderNewest && q.Order != OrderMostVisited) {
		return nil, "", Errorf(EINVALID, "cursor pages are ordered newest or most visited first")
	}
	if err := scopeList(actor, &q); err != nil {
		return nil, "", err
	}
	return s.store.ListLinks(ctx, q)
}

// Page returns a numbered page of the links actor may manage, and how many there are.
func (s *Shortener) Page(ctx context.Context, actor Actor, q ListQuery) ([]Link, int64, error) {
	if q.Page == nil {
		return nil, 0, Errorf(EINVALID, "a numbered page is needed")
	}
	if q.Order == "" {
		q.Order = OrderNewest
	}
	if err := scopeList(actor, &q); err != nil {
		return nil, 0, err
	}
	return s.store.PageLinks(ctx, q)
}

// scopeList limits q to what actor may see and checks its filters.
func scopeList(actor Actor, q *ListQuery) error {
	q.Owner = actor.Scope()
	if only := actor.DomainScope(); only != nil {
		if q.Domain != nil && *q.Domain != *only {
			return Errorf(EFORBIDDEN, "this key lists the links of one domain only, not of the one asked for")
		}
		q.Domain = only
	}
	if len(q.Search) > 2048 || !utf8.ValidString(q.Search) || strings.ContainsRune(q.Search, 0) {
		return Errorf(EINVALID, "q must be text of at most 2048 bytes, without NUL characters")
	}
	for _, tags := range []*[]string{&q.Tags, &q.ExcludeTags} {
		normalized, err := NormalizeTags(*tags)
		if err != nil {
			return Wrap(EINVALID, err, ErrorMessage(err))
		}
		*tags = normalized
	}
	return nil
}

// MaxCrawlable bounds the codes /robots.txt allows: crawlers read at most
// about 500 KiB of it.
const MaxCrawlable = 20000

// Crawlable returns the codes of the links of domain crawlers may follow.
func (s *Shortener) Crawlable(ctx context.Context, domain string) ([]string, error) {
	return s.store.CrawlableCodes(ctx, domain, MaxCrawlable)
}

// Update changes the link of the key code; its old cache entries are gone
// when it returns, or, if Redis does not answer, as soon as Redis does (see Invalidator).
func (s *Shortener) Update(ctx context.Context, actor Actor, code string, p LinkPatch) (Link, error) {
	if !link.IsKey(code) || !actor.Reaches(code) {
		return Link{}, Errorf(ENOTFOUND, link.NotFoundMessage)
	}
	if p.URL != nil {
		normalized, err := s.policy.Normalize(*p.URL)
		if err != nil {
			return Link{}, err
		}
		p.URL = &normalized
	}
	if err := s.validateOptions(CreateRequest{ExpiresAt: p.ExpiresAt, MaxVisits: p.MaxVisits, Redirect: deref(p.Redirect)}); err != nil {
		return Link{}, err
	}
	if p.Tags != nil {
		tags, err := NormalizeTags(*p.Tags)
		if err != nil {
			return Link{}, err
		}
		p.Tags = &tags
	}
	if p.Title != nil {
		title, err := NormalizeTitle(*p.Title)
		if err != nil {
			return Link{}, err
		}
		p.Title = &title
	}
	after, inv, err := s.store.UpdateLink(ctx, code, actor.Scope(), p)
	if err != nil {
		return Link{}, err
	}
	s.logger.Info("link changed", "key", code, "key_id", actor.KeyID, "role", actor.Role)
	if s.inval.Apply(ctx, inv) == nil {
		s.fillCache(context.WithoutCancel(ctx), after, false)
	}
	return after, nil
}

// Delete removes the link of the key code and its cache entries.
func (s *Shortener) Delete(ctx context.Context, actor Actor, code string) error {
	if !link.IsKey(code) || !actor.Reaches(code) {
		return Errorf(ENOTFOUND, link.NotFoundMessage)
	}
	inv, err := s.store.DeleteLink(ctx, code, actor.Scope())
	if err != nil {
		return err
	}
	s.logger.Info("link deleted", "key", code, "key_id", actor.KeyID, "role", actor.Role)
	s.inval.Apply(ctx, inv)
	return nil
}

// Health returns the failing dependencies' errors, nil when all answer.
func (s *Shortener) Health(ctx context.Context) error {
	var errs []error
	if err := s.store.Ping(ctx); err != nil {
		errs = append(errs, errors.New("postgres: "+ErrorMessage(err)))
	}
	if err := s.cache.Ping(ctx); err != nil {
		errs = append(errs, errors.New("redis: "+err.Error()))
	}
	return errors.Join(errs...)
}

// Ready returns nil while this replica can serve something: with Postgres
// alone it serves everything (slower), with Redis alone cached redirects.
// Only both down make it useless, so only that takes it out of the pool.
func (s *Shortener) Ready(ctx context.Context) error {
	pgErr, redisErr := s.store.Ping(ctx), s.cache.Ping(ctx)
	if pgErr != nil && redisErr != nil {
		return errors.New("postgres and redis are unavailable")
	}
	return nil
}

// HashHex is a URL hash as it appears in Redis keys.
func HashHex(hash []byte) string { return hex.EncodeToString(hash) }

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
