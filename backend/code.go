package backend

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"

	"github.com/kurzlink/kurz/link"
)

const (
	codeBits  = 6 * link.CodeLength // 42
	halfBits  = codeBits / 2
	halfMask  = 1<<halfBits - 1
	maxID     = 1<<codeBits - 1
	numRounds = 8
)

// Codec turns sequence ids into short codes through a keyed Feistel network on
// the 42-bit code space: a bijection, so codes are unique by construction, yet
// consecutive ids give unrelated codes.
type Codec struct {
	keys [numRounds]uint64
}

// NewCodec derives the round keys from secret.
func NewCodec(secret string) (*Codec, error) {
	if secret == "" {
		return nil, errors.New("code secret must not be empty")
	}
	sum := sha256.Sum256([]byte("kurz-code-v1\x00" + secret))
	var c Codec
	for i := range c.keys {
		c.keys[i] = binary.LittleEndian.Uint64(sum[(i%4)*8:]) ^ uint64(i)*0x9e3779b97f4a7c15
	}
	return &c, nil
}

// Permute maps x in [0, 2^42) to a unique value in the same range.
func (c *Codec) Permute(x uint64) uint64 {
	l, r := x>>halfBits&halfMask, x&halfMask
	for i := 0; i < numRounds; i++ {
		l, r = r, l^c.round(i, r)
	}
	return l<<halfBits | r
}

// Unpermute is the inverse of Permute.
func (c *Codec) Unpermute(y uint64) uint64 {
	l, r := y>>halfBits&halfMask, y&halfMask
	for i := numRounds - 1; i >= 0; i-- {
		l, r = r^c.round(i, l), l
	}
	return l<<halfBits | r
}

// round is a keyed 64-bit mix (splitmix64 finalizer) truncated to 21 bits.
func (c *Codec) round(i int, r uint64) uint64 {
	z := r ^ c.keys[i]
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return (z ^ z>>31) & halfMask
}

// Encode returns the code of sequence id (1 ≤ id < 2^42).
func (c *Codec) Encode(id int64) (string, error) {
	if id <= 0 || id > maxID {
		return "", Errorf(EINTERNAL, "id %d outside the code space", id)
	}
	v := c.Permute(uint64(id))
	var b [link.CodeLength]byte
	for i := link.CodeLength - 1; i >= 0; i-- {
		b[i] = link.Alphabet[v&63]
		v >>= 6
	}
	return string(b[:]), nil
}

// Decode returns the sequence id of code; ok is false when code has no id.
func (c *Codec) Decode(code string) (id int64, ok bool) {
	if !link.IsCode(code) {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(code); i++ {
		v = v<<6 | uint64(alphabetIndex(code[i]))
	}
	return int64(c.Unpermute(v)), true
}

func alphabetIndex(ch byte) int {
	switch {
	case ch >= 'A' && ch <= 'Z':
		return int(ch - 'A')
	case ch >= 'a' && ch <= 'z':
		return int(ch-'a') + 26
	case ch >= '0' && ch <= '9':
		return int(ch-'0') + 52
	case ch == '-':
		return 62
	default:
		return 63
	}
}
