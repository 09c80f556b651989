package backend

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/kurzlink/kurz/link"
)

// KeyPrefix starts every API key, so that leaked keys are easy to search for.
const KeyPrefix = "kurz_"

// KeyRing creates and checks API keys. Only SHA-256 hashes are stored, and
// a key is found by its hash, so no comparison ever involves the secret itself.
type KeyRing struct {
	store LinkStore
	ttl   time.Duration // how long a valid key is remembered: the revocation delay
	// Domains map a key's domain to the links it may manage (Check).
	Domains Domains

	mu    sync.Mutex
	valid map[string]rememberedKey // hex hash → the key's actor, until
}

type rememberedKey struct {
	actor Actor
	until time.Time
}

func NewKeyRing(store LinkStore, ttl time.Duration) *KeyRing {
	return &KeyRing{store: store, ttl: ttl, valid: map[string]rememberedKey{}}
}

// Create makes a key named name with role, limited to the links of domain
// unless it is "", and returns it: the only time it is shown.
func (k *KeyRing) Create(ctx context.Context, name string, role Role, domain string) (string, APIKey, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", APIKey{}, Errorf(EINVALID, "a key needs a name of 1 to 100 characters")
	}
	domain = strings.ToLower(strings.TrimSpace(domain))
	if domain != "" && !link.IsDomainName(domain) {
		return "", APIKey{}, Errorf(EINVALID, "%q is not a domain name (a host such as s.example.org, as KURZ_DOMAINS lists it)", domain)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", APIKey{}, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", APIKey{}, err
	}
	key := KeyPrefix + base64.RawURLEncoding.EncodeToString(secret)
	hash := sha256.Sum256([]byte(key))
	created, err := k.store.CreateKey(ctx, name, role, domain, hash[:])
	if ErrorCode(err) == ECONFLICT {
		return "", APIKey{}, Errorf(ECONFLICT, "an active key is named %q already: choose another name", name)
	}
	return key, created, err
}

// Check returns the actor of an active key, and EUNAUTHORIZED otherwise. A
// key is remembered for the ring's ttl: a revocation takes that long at most.
func (k *KeyRing) Check(ctx context.Context, key string) (Actor, error) {
	if !strings.HasPrefix(key, KeyPrefix) || len(key) > 200 {
		return Anonymous, Errorf(EUNAUTHORIZED, "a valid API key is required")
	}
	sum := sha256.Sum256([]byte(key))
	id := hex.EncodeToString(sum[:])
	now := time.Now()
	k.mu.Lock()
	known, ok := k.valid[id]
	k.mu.Unlock()
	if ok && now.Before(known.until) {
		return known.actor, nil
	}
	found, err := k.store.ActiveKey(ctx, sum[:])
	if ErrorCode(err) == ENOTFOUND {
		return Anonymous, Errorf(EUNAUTHORIZED, "a valid API key is required")
	}
	if err != nil {
		return Anonymous, err
	}
	actor := Actor{KeyID: found.ID, Role: found.Role}
	if found.Domain != "" {
		domain, err := k.Domains.Param(found.Domain)
		if err != nil {
			return Anonymous, Errorf(EUNAUTHORIZED, "this key is limited to the domain %s, which is not served here", found.Domain)
		}
		actor.Domain = &domain
	}
	k.mu.Lock()
	k.valid[id] = rememberedKey{actor: actor, until: now.Add(k.ttl)}
	k.mu.Unlock()
	return actor, nil
}
