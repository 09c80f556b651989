package testenv

import (
	"testing"

	"github.com/kurzlink/kurz/link"
)

// MustCodec is the code codec of secret.
func MustCodec(tb testing.TB, secret string) *link.Codec {
	tb.Helper()
	c, err := link.NewCodec(secret)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
