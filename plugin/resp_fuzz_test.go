package plugin

import (
	"bufio"
	"bytes"
	"testing"
)

// Whatever a server sends, the readers (the general one, and the lookup's
// inline bulk parser) return a reply or an error within their limits: they
// never panic, never allocate past their caps, never loop.
func FuzzReadReply(f *testing.F) {
	for _, seed := range []string{
		"+OK\r\n", "-ERR x\r\n", ":42\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*2\r\n$1\r\na\r\n:1\r\n", "*-1\r\n",
		"$3000000000\r\n", "*3000000000\r\n", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "$3\r\nabcXY", ":\r\n", "$\r\n", "*1\r\n",
		"*3\r\n$7\r\nmessage\r\n$15\r\nkurz:invalidate\r\n$7\r\naaaaaaa\r\n",
		"$10485780\r\n", "$20\r\nhttps://example.com/\r\n$-1\r\n:1\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		for i := 0; i < 8; i++ { // a few replies in a row, as a pipeline reads them
			c := &call{}
			if err := readReply(r, c); err != nil {
				break
			}
			if len(c.val) > maxBulkBytes {
				t.Fatalf("a value of %d bytes passed the cap", len(c.val))
			}
		}
		readArray(bufio.NewReader(bytes.NewReader(in)))
		p := &pipe{r: bufio.NewReader(bytes.NewReader(in))} // the lookup's inline bulk parser
		for i := 0; i < 8; i++ {
			c := &call{}
			if err := p.readBulkOrReply(c); err != nil {
				if err == errTooLong && c.err != errTooLong {
					t.Fatalf("an over-long value did not mark its call")
				}
				break
			}
			if len(c.val) > maxBulkBytes {
				t.Fatalf("a value of %d bytes passed the cap", len(c.val))
			}
		}
	})
}
