package backend

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"

	"github.com/kurzlink/kurz/link"
)

// Shortener creates and resolves links: Postgres is the truth, Redis a cache
// in front of it whose failures only cost speed.
type Shortener struct {
	store  LinkStore
	cache  LinkCache
	codec  *Codec
	policy URLPolicy
	hits   *HitCounter
	logger *slog.Logger

	mu  sync.Mutex
	ids []int64 // reserved sequence ids not yet used
}

// IDBlock is how many sequence ids one round trip reserves.
const IDBlock = 16

func NewShortener(store LinkStore, cache LinkCache, codec *Codec, policy URLPolicy, hits *HitCounter, logger *slog.Logger) *Shortener {
	return &Shortener{store: store, cache: cache, codec: codec, policy: policy, hits: hits, logger: logger}
}

// Shorten returns the link of rawURL, creating it when the URL is new.
func (s *Shortener) Shorten(ctx context.Context, rawURL string) (Link, bool, error) {
	normalized, err := s.policy.Normalize(rawURL)
	if err != nil {
		return Link{}, false, err
	}
	hash := HashURL(normalized)
	if code, err := s.cache.CodeForHash(ctx, hash); err != nil {
		s.logger.Warn("redis dedup lookup failed, using postgres", "err", err)
	} else if code != "" {
		return Link{Code: code, URL: normalized, URLHash: hash}, false, nil
	}
	l, created, err := s.create(ctx, normalized, hash)
	if err != nil {
		return Link{}, false, err
	}
	s.fillCache(ctx, l)
	return l, created, nil
}

// create inserts the link; a taken code (the secret changed) moves on to the next id.
func (s *Shortener) create(ctx context.Context, normalized string, hash []byte) (Link, bool, error) {
	for attempt := 0; ; attempt++ {
		id, err := s.nextID(ctx)
		if err != nil {
			return Link{}, false, err
		}
		code, err := s.codec.Encode(id)
		if err != nil {
			return Link{}, false, err
		}
		l, created, err := s.store.CreateLink(ctx, Link{ID: id, Code: code, URL: normalized, URLHash: hash})
		if ErrorCode(err) == ECONFLICT && attempt < 3 {
			s.logger.Error("generated code already taken: was the code secret changed?", "code", code)
			continue
		}
		if err != nil {
			s.giveBackID(id)
			return Link{}, false, err
		}
		if !created {
			s.giveBackID(id)
		}
		return l, created, nil
	}
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

func (s *Shortener) fillCache(ctx context.Context, l Link) {
	if err := s.cache.SetLink(ctx, l); err != nil {
		s.logger.Warn("redis fill failed", "op", "set_link", "err", err)
	}
}

// Resolve returns the target URL of code and counts the visit.
func (s *Shortener) Resolve(ctx context.Context, code string) (string, error) {
	url, err := s.Lookup(ctx, code)
	if err != nil {
		return "", err
	}
	s.hits.Record(code)
	return url, nil
}

// Lookup returns the target URL of code without counting a visit.
func (s *Shortener) Lookup(ctx context.Context, code string) (string, error) {
	if !link.IsCode(code) {
		return "", Errorf(ENOTFOUND, "no link has this code")
	}
	url, err := s.cache.URL(ctx, code)
	if err != nil {
		s.logger.Warn("redis lookup failed, using postgres", "err", err)
	}
	if url == "" {
		l, err := s.store.FindByCode(ctx, code)
		if err != nil {
			return "", err
		}
		url = l.URL
		if err := s.cache.SetURL(ctx, code, url); err != nil {
			s.logger.Warn("redis fill failed", "op", "set_url", "err", err)
		}
	}
	return url, nil
}

// Health returns the first failing dependency's error, nil when all answer.
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

// HashHex is a URL hash as it appears in Redis keys.
func HashHex(hash []byte) string { return hex.EncodeToString(hash) }
