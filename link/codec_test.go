package link_test

import (
	"math/rand/v2"
	"testing"

	"github.com/kurzlink/kurz/link"
)

func MustCodec(tb testing.TB, secret string) *link.Codec {
	tb.Helper()
	c, err := link.NewCodec(secret)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestCodecEncode(t *testing.T) {
	c := MustCodec(t, "test-secret")
	t.Run("OK", func(t *testing.T) {
		for _, id := range []int64{1, 2, 3, 1000, 1<<42 - 1} {
			code, err := c.Encode(id)
			if err != nil {
				t.Fatalf("Encode(%d): %v", id, err)
			}
			if !link.IsCode(code) {
				t.Errorf("Encode(%d) = %q, not a code", id, code)
			}
			got, ok := c.Decode(code)
			if !ok || got != id {
				t.Errorf("Decode(Encode(%d)) = %d, %v", id, got, ok)
			}
		}
	})
	t.Run("ErrOutOfRange", func(t *testing.T) {
		for _, id := range []int64{0, -1, 1 << 42} {
			if _, err := c.Encode(id); err == nil {
				t.Errorf("Encode(%d) succeeded", id)
			}
		}
	})
	t.Run("ErrEmptySecret", func(t *testing.T) {
		if _, err := link.NewCodec(""); err == nil {
			t.Error("NewCodec(\"\") succeeded")
		}
	})
}

// The permutation is a bijection: distinct inputs give distinct outputs, and Unpermute inverts it.
func TestCodecPermutationProperties(t *testing.T) {
	c := MustCodec(t, "property")
	r := rand.New(rand.NewPCG(1, 2))
	seen := make(map[uint64]uint64, 200000)
	check := func(x uint64) {
		y := c.Permute(x)
		if y >= 1<<42 {
			t.Fatalf("Permute(%d) = %d outside 42 bits", x, y)
		}
		if back := c.Unpermute(y); back != x {
			t.Fatalf("Unpermute(Permute(%d)) = %d", x, back)
		}
		if prev, dup := seen[y]; dup && prev != x {
			t.Fatalf("Permute(%d) = Permute(%d) = %d", x, prev, y)
		}
		seen[y] = x
	}
	for x := uint64(0); x < 100000; x++ { // consecutive ids, as the sequence gives them
		check(x)
	}
	for i := 0; i < 100000; i++ {
		check(r.Uint64() & (1<<42 - 1))
	}
}

func TestCodecNotSequential(t *testing.T) {
	c := MustCodec(t, "spread")
	a, _ := c.Encode(1000)
	b, _ := c.Encode(1001)
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	if same > 3 {
		t.Errorf("codes of consecutive ids share %d of 7 characters: %q %q", same, a, b)
	}
	other := MustCodec(t, "other secret")
	x, _ := other.Encode(1000)
	if x == a {
		t.Errorf("two secrets gave the same code %q", x)
	}
}

func BenchmarkCodecEncode(b *testing.B) {
	c := MustCodec(b, "bench")
	for i := 0; i < b.N; i++ {
		if _, err := c.Encode(int64(i%1000000) + 1); err != nil {
			b.Fatal(err)
		}
	}
}

// Codes are a contract: links made before any change must keep their codes,
// and the edge must decode exactly what the backend encoded.
func TestCodecIsStable(t *testing.T) {
	c := MustCodec(t, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	for _, tc := range []struct {
		id   int64
		code string
	}{{1, "s4UzX7M"}, {2, "FGOGvUm"}, {1000, "F2UHSQr"}, {1<<42 - 1, "iF1a0dW"}} {
		got, err := c.Encode(tc.id)
		if err != nil || got != tc.code {
			t.Errorf("Encode(%d) = %q, %v; want %q", tc.id, got, err, tc.code)
		}
		if id, ok := c.Decode(tc.code); !ok || id != tc.id {
			t.Errorf("Decode(%q) = %d, %v; want %d", tc.code, id, ok, tc.id)
		}
	}
	t.Run("ErrNotACode", func(t *testing.T) {
		for _, s := range []string{"", "abc", "abcdefgh", "abc.efg", "abcdef\xff"} {
			if _, ok := c.Decode(s); ok {
				t.Errorf("Decode(%q) ok", s)
			}
		}
	})
	t.Run("Fingerprint", func(t *testing.T) {
		other := MustCodec(t, "another secret")
		if c.Fingerprint() == other.Fingerprint() || len(c.Fingerprint()) != 16 {
			t.Errorf("fingerprints %q and %q", c.Fingerprint(), other.Fingerprint())
		}
	})
}
