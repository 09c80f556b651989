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
)

// KeyPrefix starts every API key, so that leaked keys are easy to search for.
const KeyPrefix = "kurz_"

// KeyRing creates and checks API keys. Only SHA-256 hashes are stored, and
// a key is found by its hash, so no comparison ever involves the secret itself.
type KeyRing struct {
	store LinkStore
	ttl   time.Duration // how long a valid key is remembered: the revocation delay

	mu    sync.Mutex
	valid map[string]time.Time // hex hash → remembered until
}

func NewKeyRing(store LinkStore, ttl time.Duration) *KeyRing {
	return &KeyRing{store: store, ttl: ttl, valid: map[string]time.Time{}}
}

// Create makes a key named name and returns it: the only time it is shown.
func (k *KeyRing) Create(ctx context.Context, name string) (string, APIKey, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", APIKey{}, Errorf(EINVALID, "a key needs a name of 1 to 100 characters")
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", APIKey{}, err
	}
	key := KeyPrefix + base64.RawURLEncoding.EncodeToString(secret)
	hash := sha256.Sum256([]byte(key))
	created, err := k.store.CreateKey(ctx, name, hash[:])
	return key, created, err
}

// Check returns nil for an active key and EUNAUTHORIZED otherwise.
func (k *KeyRing) Check(ctx context.Context, key string) error {
	if !strings.HasPrefix(key, KeyPrefix) || len(key) > 200 {
		return Errorf(EUNAUTHORIZED, "a valid API key is required")
	}
	sum := sha256.Sum256([]byte(key))
	id := hex.EncodeToString(sum[:])
	now := time.Now()
	k.mu.Lock()
	until, ok := k.valid[id]
	k.mu.Unlock()
	if ok && now.Before(until) {
		return nil
	}
	active, err := k.store.KeyActive(ctx, sum[:])
	if err != nil {
		return err
	}
	if !active {
		return Errorf(EUNAUTHORIZED, "a valid API key is required")
	}
	k.mu.Lock()
	k.valid[id] = now.Add(k.ttl)
	k.mu.Unlock()
	return nil
}
