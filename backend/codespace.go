package backend

import (
	"context"
	"log/slog"
	"time"

	"github.com/kurzlink/kurz/link"
)

// CodeSpaceStore is what CodeSpace reads from Postgres.
type CodeSpaceStore interface {
	// IssuedID is the highest id the link sequence handed out.
	IssuedID(ctx context.Context) (int64, error)
	// ListedAliases returns every listed alias, of any length.
	ListedAliases(ctx context.Context) ([]string, error)
	CountListedAliases(ctx context.Context) (AliasCounts, error)
}

// AliasCounts counts listed aliases: of link.CodeLength characters (the
// edge's list) and of the other lengths (the backends').
type AliasCounts struct{ Edge, Other int64 }

// CodeSpaceCache is what CodeSpace keeps in Redis.
type CodeSpaceCache interface {
	RaiseIssued(ctx context.Context, fingerprint string, id int64, create bool) (missing bool, err error)
	// CountAliases counts the aliases listed in Redis; Other is -1 while
	// that list was never filled whole.
	CountAliases(ctx context.Context) (AliasCounts, error)
	// AddAliases lists codes (each in link.AliasesKeyOf it) and marks the
	// list of other lengths whole.
	AddAliases(ctx context.Context, codes []string) error
}

// CodeSpace keeps what the edge needs to answer unknown codes itself in
// Redis: codes:issued raised from the sequence every link.IssuedRaiseInterval
// (the creating backend also raises it for every block of ids it takes), and
// the alias lists (codes:aliases for the edge, codes:aliases:other for the
// backends' redirects) refilled from Postgres when Redis lost them (a new or
// failed-over Redis) or holds fewer aliases than Postgres lists.
type CodeSpace struct {
	store       CodeSpaceStore
	cache       CodeSpaceCache
	fingerprint string
	logger      *slog.Logger
	interval    time.Duration
	checkEvery  int // intervals between comparisons of the alias counts
}

func NewCodeSpace(store CodeSpaceStore, cache CodeSpaceCache, codec *link.Codec, logger *slog.Logger) *CodeSpace {
	return &CodeSpace{store: store, cache: cache, fingerprint: codec.Fingerprint(), logger: logger,
		interval: link.IssuedRaiseInterval, checkEvery: 4}
}

// Run keeps Redis up to date until ctx ends.
func (c *CodeSpace) Run(ctx context.Context) {
	failures := retryLog{logger: c.logger, what: "publishing the issued codes for the edge"}
	tick := 0
	c.sync(ctx, true)
	every(ctx, c.interval, func() {
		tick++
		if err := c.sync(ctx, tick%c.checkEvery == 0); ctx.Err() == nil {
			failures.record(err)
		}
	})
}

// sync raises codes:issued and refills codes:aliases if Redis lost it
// (before creating codes:issued again: the edge trusts the aliases only with
// it), or, with compare, if Redis holds fewer aliases than Postgres lists.
func (c *CodeSpace) sync(ctx context.Context, compare bool) error {
	id, err := c.store.IssuedID(ctx)
	if err != nil {
		return err
	}
	missing, err := c.cache.RaiseIssued(ctx, c.fingerprint, id, false)
	if err != nil || (!missing && !compare) {
		return err
	}
	if err := c.refillAliases(ctx); err != nil || !missing {
		return err
	}
	_, err = c.cache.RaiseIssued(ctx, c.fingerprint, id, true)
	return err
}

func (c *CodeSpace) refillAliases(ctx context.Context) error {
	want, err := c.store.CountListedAliases(ctx)
	if err != nil {
		return err
	}
	have, err := c.cache.CountAliases(ctx)
	if err != nil || (have.Edge >= want.Edge && have.Other >= want.Other) {
		return err
	}
	codes, err := c.store.ListedAliases(ctx)
	if err != nil {
		return err
	}
	c.logger.Info("refilling the alias lists in redis", "have", have, "want", want)
	return c.cache.AddAliases(ctx, codes)
}
