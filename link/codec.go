package link

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

const (
	codeBits  = 6 * CodeLength // 42
	halfBits  = codeBits / 2
	halfMask  = 1<<halfBits - 1
	maxID     = 1<<codeBits - 1
	numRounds = 8
)

// Codec turns sequence ids into short codes through a keyed Feistel network on
// the 42-bit code space: a bijection, so codes are unique by construction, yet
// consecutive ids give unrelated codes. The edge decodes with it to answer
// codes that cannot exist, so both sides share this one implementation.
type Codec struct {
	keys        [numRounds]uint64
	fingerprint string
}

// NewCodec derives the round keys from secret.
func NewCodec(secret string) (*Codec, error) {
	if secret == "" {
		return nil, errors.New("code secret must not be empty")
	}
	sum := sha256.Sum256([]byte("kurz-code-v1\x00" + secret))
	var c Codec
	for i := 0; i < numRounds; i++ {
		c.keys[i] = binary.LittleEndian.Uint64(sum[(i%4)*8:]) ^ uint64(i)*0x9e3779b97f4a7c15
	}
	check := sha256.Sum256([]byte("kurz-code-fingerprint-v1\x00" + secret))
	c.fingerprint = hex.EncodeToString(check[:8])
	return &c, nil
}

// RoundKeys are the keys of the rounds, last round last: the edge holds an
// inlined copy of Unpermute (an interpreted call costs more than its work).
func (c *Codec) RoundKeys() [numRounds]uint64 { return c.keys }

// Fingerprint names the secret without revealing it: sides that print the
// same fingerprint make and read the same codes.
func (c *Codec) Fingerprint() string { return c.fingerprint }

// Permute maps x in [0, 2^42) to a unique value in the same range.
func (c *Codec) Permute(x uint64) uint64 {
	l, r := x>>halfBits&halfMask, x&halfMask
	for i := 0; i < numRounds; i++ {
		l, r = r, l^round(c.keys[i], r)
	}
	return l<<halfBits | r
}

// Unpermute is the inverse of Permute, with the round written out. The edge
// holds an inlined copy (plugin/codespace.go, absent): keep the two alike.
func (c *Codec) Unpermute(y uint64) uint64 {
	l, r := y>>halfBits&halfMask, y&halfMask
	for i := numRounds - 1; i >= 0; i-- {
		z := l ^ c.keys[i]
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		l, r = r^(z^z>>31)&halfMask, l
	}
	return l<<halfBits | r
}

// round is a keyed 64-bit mix (splitmix64 finalizer) truncated to 21 bits;
// Unpermute holds a copy.
func round(key, r uint64) uint64 {
	z := r ^ key
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return (z ^ z>>31) & halfMask
}

// Encode returns the code of sequence id (1 ≤ id < 2^42).
func (c *Codec) Encode(id int64) (string, error) {
	if id <= 0 || id > maxID {
		return "", fmt.Errorf("id %d outside the code space", id)
	}
	v := c.Permute(uint64(id))
	var b [CodeLength]byte
	for i := CodeLength - 1; i >= 0; i-- {
		b[i] = Alphabet[v&63]
		v >>= 6
	}
	return string(b[:]), nil
}

// Decode returns the sequence id of code; ok is false when code has no id.
func (c *Codec) Decode(code string) (id int64, ok bool) {
	if len(code) != CodeLength {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(code); i++ {
		d := alphabetIndex[code[i]]
		if d < 0 {
			return 0, false
		}
		v = v<<6 | uint64(d)
	}
	return int64(c.Unpermute(v)), true
}

// alphabetIndex[b] is b's place in Alphabet, -1 for other bytes: a table, cheap under Yaegi.
var alphabetIndex = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(Alphabet); i++ {
		t[Alphabet[i]] = int8(i)
	}
	return t
}()
