package backend

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"strconv"
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
	// SignatureSecret makes the keys' signature tokens (SignatureToken); none: no timestamp signatures.
	SignatureSecret []byte

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
	actor, err := k.actorOf(found)
	if err != nil {
		return Anonymous, err
	}
	k.mu.Lock()
	k.valid[id] = rememberedKey{actor: actor, until: now.Add(k.ttl)}
	k.mu.Unlock()
	return actor, nil
}

func (k *KeyRing) actorOf(key APIKey) (Actor, error) {
	actor := Actor{KeyID: key.ID, Name: key.Name, Role: key.Role}
	if key.Domain != "" {
		domain, err := k.Domains.Param(key.Domain)
		if err != nil {
			return Anonymous, Errorf(EUNAUTHORIZED, "this key is limited to the domain %s, which is not served here", key.Domain)
		}
		actor.Domain = &domain
	}
	return actor, nil
}

// YOURLS's timestamp signature is H(timestamp . token) of a token the
// server can recompute; kurz keeps only hashes of keys, so each key's token
// is an HMAC of its id under a secret derived from KURZ_CODE_SECRET, never the key itself.

// SignatureSecret derives the keys' signature secret from the code secret
// (KURZ_CODE_SECRET), which every backend has, kept apart by its label.
func SignatureSecret(codeSecret string) []byte {
	if codeSecret == "" {
		return nil
	}
	mac := hmac.New(sha256.New, []byte(codeSecret))
	mac.Write([]byte("kurz: signature tokens of API keys"))
	return mac.Sum(nil)
}

// SignatureWindow is how far a signed timestamp may be from now (YOURLS_NONCE_LIFE).
const SignatureWindow = 12 * time.Hour

// SignatureToken is the signature token of the key with id; "" without a secret.
func (k *KeyRing) SignatureToken(id int64) string {
	if len(k.SignatureSecret) == 0 {
		return ""
	}
	mac := hmac.New(sha256.New, k.SignatureSecret)
	mac.Write([]byte("yourls-signature:" + strconv.FormatInt(id, 10)))
	return hex.EncodeToString(mac.Sum(nil))[:32]
}

// signatureHashes are the hashes YOURLS signs timestamps with, by hash= name.
var signatureHashes = map[string]func([]byte) []byte{
	"md5":    func(b []byte) []byte { s := md5.Sum(b); return s[:] },
	"sha256": func(b []byte) []byte { s := sha256.Sum256(b); return s[:] },
	"sha384": func(b []byte) []byte { s := sha512.Sum384(b); return s[:] },
	"sha512": func(b []byte) []byte { s := sha512.Sum512(b); return s[:] },
}

// CheckSignature returns the actor of the active key whose token signed
// timestamp (hex of H(timestamp . token) or H(token . timestamp), H by
// hashName, md5 by default), within SignatureWindow of now.
func (k *KeyRing) CheckSignature(ctx context.Context, timestamp, hashName, signature string, now time.Time) (Actor, error) {
	if len(k.SignatureSecret) == 0 {
		return Anonymous, Errorf(EUNAUTHORIZED, "timestamp signatures are off: the server has no code secret")
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || now.Sub(time.Unix(ts, 0)).Abs() > SignatureWindow {
		return Anonymous, Errorf(EUNAUTHORIZED, "the timestamp must be the current Unix time (within %s)", SignatureWindow)
	}
	if hashName == "" {
		hashName = "md5"
	}
	hash, ok := signatureHashes[hashName]
	if !ok {
		return Anonymous, Errorf(EUNAUTHORIZED, "hash must be md5, sha256, sha384 or sha512")
	}
	sig, err := hex.DecodeString(strings.ToLower(signature))
	if err != nil {
		return Anonymous, Errorf(EUNAUTHORIZED, "the signature must be hexadecimal")
	}
	keys, err := k.store.ListKeys(ctx)
	if err != nil {
		return Anonymous, err
	}
	for _, key := range keys {
		token := k.SignatureToken(key.ID)
		if key.RevokedAt != nil {
			continue
		}
		if hmac.Equal(sig, hash([]byte(timestamp+token))) || hmac.Equal(sig, hash([]byte(token+timestamp))) {
			return k.actorOf(key)
		}
	}
	return Anonymous, Errorf(EUNAUTHORIZED, "no active key signed this timestamp")
}
