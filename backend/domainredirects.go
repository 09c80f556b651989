package backend

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DomainRedirects say where a domain sends a visitor who asks for its root,
// or for a code it has no link for (Shlink's domain redirects); "": nowhere
// (the page, or the 404). Both answer 302: they change as often as wanted.
type DomainRedirects struct {
	Root     string
	NotFound string
}

// DomainStore keeps the domains' redirects (Postgres).
type DomainStore interface {
	// DomainRedirects returns every domain's redirects, by domain as stored.
	DomainRedirects(ctx context.Context) (map[string]DomainRedirects, error)
	SetDomainRedirects(ctx context.Context, domain string, r DomainRedirects) error
}

// NotFoundPublisher tells the edges where the default domain sends unknown
// codes, which they answer themselves ("": they answer 404).
type NotFoundPublisher interface {
	PublishNotFoundRedirect(ctx context.Context, url string) error
}

// RedirectsRefresh is how often a backend reads the redirects again: the
// bound on how long another replica, and the edges, keep an old one.
const RedirectsRefresh = 5 * time.Second

// DomainRedirector answers the domains' redirects from memory, read again
// every RedirectsRefresh, so that a storm of unknown codes costs Postgres nothing.
type DomainRedirector struct {
	store     DomainStore
	publisher NotFoundPublisher
	policy    URLPolicy
	domains   Domains
	logger    *slog.Logger

	mu    sync.Mutex
	known map[string]DomainRedirects
}

func NewDomainRedirector(store DomainStore, publisher NotFoundPublisher, policy URLPolicy, domains Domains, logger *slog.Logger) *DomainRedirector {
	return &DomainRedirector{store: store, publisher: publisher, policy: policy, domains: domains, logger: logger}
}

// For returns domain's redirects as last read.
func (d *DomainRedirector) For(domain string) DomainRedirects {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.known[domain]
}

// Run reads the redirects and publishes the default domain's not-found one
// every RedirectsRefresh until ctx ends.
func (d *DomainRedirector) Run(ctx context.Context) {
	failures := retryLog{logger: d.logger, what: "reading the domains' redirects"}
	d.refresh(ctx)
	every(ctx, RedirectsRefresh, func() {
		if err := d.refresh(ctx); ctx.Err() == nil {
			failures.record(err)
		}
	})
}

func (d *DomainRedirector) refresh(ctx context.Context) error {
	known, err := d.store.DomainRedirects(ctx)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.known = known
	d.mu.Unlock()
	return d.publisher.PublishNotFoundRedirect(ctx, known[""].NotFound)
}

// Set changes domain's redirects (as stored) if actor is an admin of it;
// each is a URL the shortener accepts as a target, or "" for none.
func (d *DomainRedirector) Set(ctx context.Context, actor Actor, domain string, r DomainRedirects) (DomainRedirects, error) {
	if actor.Role != RoleAdmin || !actor.ReachesDomain(domain) {
		return DomainRedirects{}, Errorf(EFORBIDDEN, "a domain's redirects are set with an admin key of that domain")
	}
	for _, u := range []*string{&r.Root, &r.NotFound} {
		if *u == "" {
			continue
		}
		normalized, err := d.policy.Normalize(*u)
		if err != nil {
			return DomainRedirects{}, err
		}
		*u = normalized
	}
	if err := d.store.SetDomainRedirects(ctx, domain, r); err != nil {
		return DomainRedirects{}, err
	}
	d.mu.Lock()
	if d.known == nil {
		d.known = map[string]DomainRedirects{}
	}
	d.known[domain] = r
	d.mu.Unlock()
	if domain == "" {
		if err := d.publisher.PublishNotFoundRedirect(ctx, r.NotFound); err != nil {
			d.logger.Warn("publishing the not-found redirect failed; the next refresh does", "err", err)
		}
	}
	return r, nil
}
