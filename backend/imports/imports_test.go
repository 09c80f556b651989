package imports_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/backend/imports"
)

func MustRead(tb testing.TB, source, export string) []backend.ImportRecord {
	tb.Helper()
	records, err := imports.Read(source, strings.NewReader(export))
	if err != nil {
		tb.Fatal(err)
	}
	return slices.Collect(records)
}

func TestRead(t *testing.T) {
	t.Run("OKCSVAsShlinkWritesIt", func(t *testing.T) {
		got := MustRead(t, "csv", "\ufeffShort URL,Long URL,Tags,Created at,Visits\nhttps://s.example.org/abc,https://example.com/a,one|two,2024-01-02 03:04:05,9\n")
		if len(got) != 1 {
			t.Fatalf("records = %+v", got)
		}
		r := got[0]
		if r.Err != nil || r.Code != "abc" || r.Domain != "s.example.org" || r.URL != "https://example.com/a" || !slices.Equal(r.Tags, []string{"one", "two"}) || r.Visits != 9 || r.Line != 2 {
			t.Errorf("record = %+v", r)
		}
		if want := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC); r.CreatedAt == nil || !r.CreatedAt.Equal(want) {
			t.Errorf("created = %v, want %v", r.CreatedAt, want)
		}
	})
	t.Run("ErrCSVWithoutLongURL", func(t *testing.T) {
		got := MustRead(t, "csv", "code,title\nabc,x\n")
		if len(got) != 1 || got[0].Err == nil || !strings.Contains(got[0].Err.Error(), "Long URL") {
			t.Errorf("records = %+v", got)
		}
	})
	t.Run("OKYOURLSTableAsCSV", func(t *testing.T) {
		got := MustRead(t, "yourls", "keyword,url,title,timestamp,ip,clicks\nozh,https://ozh.org/,Ozh,2019-05-06 07:08:09,127.0.0.1,12\n")
		if len(got) != 1 || got[0].Code != "ozh" || got[0].Visits != 12 || got[0].Err != nil {
			t.Errorf("records = %+v", got)
		}
	})
	t.Run("OKYOURLSStatsAction", func(t *testing.T) {
		got := MustRead(t, "yourls", `{"links":{"link_1":{"shorturl":"https://sho.rt/one","url":"https://example.com/1","clicks":"3"},"link_2":{"shorturl":"https://sho.rt/two","url":"https://example.com/2","clicks":"0"}},"stats":{"total_links":2}}`)
		if len(got) != 2 || got[0].Code != "one" || got[1].Code != "two" || got[0].Domain != "sho.rt" || got[0].Visits != 3 {
			t.Errorf("records = %+v", got)
		}
	})
	t.Run("OKShlinkPagesOneAfterAnother", func(t *testing.T) {
		got := MustRead(t, "shlink", `{"shortUrls":{"data":[{"shortCode":"a1b","longUrl":"https://example.com/1"}]}}
{"shortUrls":{"data":[{"shortCode":"c2d","longUrl":"https://example.com/2","domain":"s.example.org"}]}}`)
		if len(got) != 2 || got[1].Code != "c2d" || got[1].Domain != "s.example.org" || got[1].Line != 2 {
			t.Errorf("records = %+v", got)
		}
	})
	t.Run("ErrAnItemOfAnotherShape", func(t *testing.T) {
		got := MustRead(t, "kutt", `{"data":[{"address":"ok1","target":"https://example.com/"},{"address":["not","a","code"]},"text"]}`)
		if len(got) != 3 || got[0].Err != nil || got[1].Err == nil || got[2].Err == nil {
			t.Errorf("records = %+v", got)
		}
	})
	t.Run("OKBitlyBrandedDomain", func(t *testing.T) {
		got := MustRead(t, "bitly", `{"links":[{"link":"https://bit.ly/3x","long_url":"https://example.com/b","custom_bitlinks":["https://go.example.org/brand"],"tags":["q"]},{"link":"https://bit.ly/3y","long_url":"https://example.com/c"}]}`)
		if len(got) != 2 || got[0].Domain != "go.example.org" || got[0].Code != "brand" || got[1].Domain != "" || got[1].Code != "3y" {
			t.Errorf("records = %+v", got)
		}
	})
	t.Run("ErrUnknownSource", func(t *testing.T) {
		if _, err := imports.Read("tinyurl", strings.NewReader("")); err == nil {
			t.Error("no error")
		}
	})
}
