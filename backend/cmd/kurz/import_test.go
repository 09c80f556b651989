package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kurzlink/kurz/internal/testenv"
)

// MustImport runs kurz import with the backends' settings and returns what it printed.
func MustImport(tb testing.TB, db, redisURL string, args ...string) string {
	tb.Helper()
	out, err := tryImport(tb, db, redisURL, args...)
	if err != nil {
		tb.Fatalf("kurz import %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func tryImport(tb testing.TB, db, redisURL string, args ...string) (string, error) {
	tb.Helper()
	env := map[string]string{"DATABASE_URL": db, "REDIS_URL": redisURL, "KURZ_CODE_SECRET": testCodeSecret,
		"KURZ_PUBLIC_URL": "http://kurz.test", "KURZ_DOMAINS": "kurz.test,go.example.org", "KURZ_LOG_LEVEL": "error"}
	var out bytes.Buffer
	err := run(tb.Context(), append([]string{"kurz", "import"}, args...), func(k string) string { return env[k] }, &out)
	return out.String(), err
}

func mustWrite(tb testing.TB, name, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func TestImport(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	huge := "https://example.com/" + strings.Repeat("a", 10<<20) // one 10 MB line
	for _, tc := range []struct {
		source, export string
		summary        string            // the first line kurz import prints
		skipped        []string          // reasons, each on a line of the summary
		want           map[string]string // key → target of links that redirect afterwards
	}{
		{
			source: "shlink",
			export: `{"shortUrls":{"data":[
				{"shortCode":"abc123","domain":null,"longUrl":"https://example.com/one","dateCreated":"2024-02-03T04:05:06+02:00","tags":["Summer Sale","docs"],"title":"One","visitsSummary":{"total":41,"nonBots":40,"bots":1},"meta":{"validSince":null,"validUntil":null,"maxVisits":null}},
				{"shortCode":"Xy7_abc","domain":"go.example.org","longUrl":"https://example.com/two","dateCreated":"2024-02-03T04:05:06+00:00","tags":[],"title":null,"visitsCount":7,"meta":{"validSince":"2024-01-01T00:00:00+00:00","validUntil":"2040-01-01T00:00:00+00:00","maxVisits":100}},
				{"shortCode":"evil","longUrl":"javascript:alert(1)","dateCreated":"2024-02-03T04:05:06+00:00"},
				{"shortCode":"when","longUrl":"https://example.com/when","dateCreated":"yesterday"},
				{"shortCode":"a/b","longUrl":"https://example.com/slash","dateCreated":"2024-02-03T04:05:06+00:00"},
				{"shortCode":"abc123","longUrl":"https://example.com/again","dateCreated":"2024-02-03T04:05:06+00:00"}
			],"pagination":{"currentPage":1,"pagesCount":2}}}
			{"shortUrls":{"data":[{"shortCode":"huge","longUrl":"` + huge + `"}]}}`,
			summary: "read 7, imported 3 (1 with a new code), already there 1, skipped 3",
			skipped: []string{"skipped 1: target refused", "skipped 1: unreadable: dateCreated \"yesterday\" is not a date"},
			want:    map[string]string{"abc123": "https://example.com/one", "go.example.org/Xy7_abc": "https://example.com/two"},
		},
		{
			source: "yourls",
			export: `{"result":[{"keyword":"ozh","url":"https://example.com/ozh","title":"Ozh","timestamp":"2019-05-06 07:08:09","ip":"127.0.0.1","clicks":"12"},
				{"keyword":"x","url":"https://example.com/short-keyword","timestamp":"2019-05-06 07:08:09","clicks":"0"},
				{"keyword":"bad-clicks","url":"https://example.com/c","timestamp":"2019-05-06 07:08:09","clicks":"many"}]}`,
			summary: "read 3, imported 2 (1 with a new code), already there 0, skipped 1",
			want:    map[string]string{"ozh": "https://example.com/ozh"},
		},
		{
			source: "kutt",
			export: `{"limit":50,"skip":0,"total":2,"data":[{"address":"kutt-1","target":"https://example.com/kutt","description":"Kutt","created_at":"2023-01-02T03:04:05.000Z","visit_count":5,"domain":null},
				{"address":"kutt-2","target":"data:text/html,hi","created_at":"2023-01-02T03:04:05.000Z","visit_count":0}]}`,
			summary: "read 2, imported 1 (0 with a new code), already there 0, skipped 1",
			want:    map[string]string{"kutt-1": "https://example.com/kutt"},
		},
		{
			source: "bitly",
			export: `{"links":[{"link":"https://bit.ly/3abcDEF","id":"bit.ly/3abcDEF","long_url":"https://example.com/bitly","title":"Bitly","created_at":"2022-03-04T05:06:07+0000","tags":["q1"],"custom_bitlinks":[]},
				{"link":"https://bit.ly/3xyz","id":"bit.ly/3xyz","long_url":"https://example.com/brand","created_at":"2022-03-04T05:06:07+0000","custom_bitlinks":["https://go.example.org/brand"]}],"pagination":{"next":""}}`,
			summary: "read 2, imported 2 (0 with a new code), already there 0, skipped 0",
			want:    map[string]string{"3abcDEF": "https://example.com/bitly", "go.example.org/brand": "https://example.com/brand"},
		},
		{
			source: "csv",
			export: "Long URL,Short code,Domain,Title,Tags,Visits\n" +
				"https://example.com/csv-1,csv-one,,CSV one,a|b,3\n" +
				"https://example.com/csv-2,,,Made a code,,\n" +
				"\"https://example.com/csv,3\",csv-three,go.example.org,\"Quoted, title\",,0\n" +
				"https://example.com/csv-4,csv-four,,,,-2\n" +
				"file:///etc/passwd,csv-five,,,,\n" +
				huge + ",csv-huge,,,,\n" +
				"https://example.com/csv-1,csv-one,,CSV one,a|b,3\n",
			summary: "read 7, imported 3 (1 with a new code), already there 1, skipped 3",
			skipped: []string{"skipped 1: a visit count cannot be negative (at 5)"},
			want:    map[string]string{"csv-one": "https://example.com/csv-1", "go.example.org/csv-three": "https://example.com/csv,3"},
		},
	} {
		t.Run("OK"+strings.ToUpper(tc.source[:1])+tc.source[1:], func(t *testing.T) {
			db := pg.NewDatabase(t)
			file := mustWrite(t, "export", tc.export)
			out := MustImport(t, db, rd.URL(), tc.source, file)
			if got, _, _ := strings.Cut(out, "\n"); got != tc.summary {
				t.Errorf("summary = %q, want %q\n%s", got, tc.summary, out)
			}
			for _, reason := range tc.skipped {
				if !strings.Contains(out, reason) {
					t.Errorf("the summary does not say %q:\n%s", reason, out)
				}
			}
			b := MustStartBackend(t, db, rd.URL(), map[string]string{"KURZ_DOMAINS": "kurz.test,go.example.org"})
			for key, target := range tc.want {
				domain, code, ok := strings.Cut(key, "/")
				if !ok {
					domain, code = "kurz.test", key
				}
				res := testenv.Do(t, "GET", b.URL+"/"+code, "", "Host", domain)
				if res.Status != 301 || res.Header.Get("Location") != target {
					t.Errorf("GET %s = %d %s, want 301 %s", key, res.Status, res.Header.Get("Location"), target)
				}
			}
			again := MustImport(t, db, rd.URL(), tc.source, file)
			if !strings.Contains(again, "imported 0 (0 with a new code)") {
				t.Errorf("a second run changed something:\n%s", again)
			}
		})
	}

	t.Run("OKCountsTagsAndDatesKept", func(t *testing.T) {
		db := pg.NewDatabase(t)
		MustImport(t, db, rd.URL(), "shlink", mustWrite(t, "export", `[{"shortCode":"kept-1","longUrl":"https://example.com/k","dateCreated":"2024-02-03T04:05:06+02:00","tags":["Summer Sale"],"title":"Kept","visitsSummary":{"total":41}}]`))
		if got, want := MustQueryInt(t, db, `SELECT access_count FROM url_mappings WHERE short_code = 'kept-1'`), int64(41); got != want {
			t.Errorf("access_count = %d, want %d", got, want)
		}
		if got := MustQueryInt(t, db, `SELECT count(*) FROM url_mappings WHERE short_code = 'kept-1' AND tags = '{summer-sale}' AND title = 'Kept'
			AND created_at = '2024-02-03T02:05:06Z' AND import_source = 'shlink' AND import_key = 'kept-1'`); got != 1 {
			t.Errorf("the link's tags, title, date or origin were not kept")
		}
		if got := MustQueryInt(t, db, `SELECT count(*) FROM edge_aliases WHERE code = 'kept-1'`); got != 1 {
			t.Errorf("the alias is not listed for the edge")
		}
	})
	t.Run("OKTakenCodes", func(t *testing.T) {
		db := pg.NewDatabase(t)
		b := MustStartBackend(t, db, rd.URL(), nil)
		if res := do(t, "POST", b.URL+"/api/shorten", "application/json", `{"url":"https://example.com/mine","alias":"taken"}`); res.Status != 201 {
			t.Fatalf("create = %d %s", res.Status, res.Raw)
		}
		export := mustWrite(t, "export.csv", "Long URL,Short code\nhttps://example.com/theirs,taken\n")
		out := MustImport(t, db, rd.URL(), "csv", export)
		if !strings.Contains(out, "skipped 1: the code is taken by another link") {
			t.Errorf("a taken code:\n%s", out)
		}
		out = MustImport(t, db, rd.URL(), "csv", export, "--new-codes")
		if !strings.HasPrefix(out, "read 1, imported 1 (1 with a new code)") {
			t.Errorf("with --new-codes:\n%s", out)
		}
		if res := do(t, "GET", b.URL+"/taken", "", ""); res.Header.Get("Location") != "https://example.com/mine" {
			t.Errorf("the existing link changed: %d %s", res.Status, res.Header.Get("Location"))
		}
	})
	t.Run("OKEveryLinkOnOneDomain", func(t *testing.T) {
		db := pg.NewDatabase(t)
		out := MustImport(t, db, rd.URL(), "csv", mustWrite(t, "export.csv", "Long URL,Short code,Domain\nhttps://example.com/d1,dom-one,elsewhere.example\nhttps://example.com/d2,dom-two,\n"),
			"--domain", "go.example.org")
		if !strings.HasPrefix(out, "read 2, imported 2") {
			t.Fatalf("import:\n%s", out)
		}
		if got := MustQueryInt(t, db, `SELECT count(*) FROM url_mappings WHERE domain = 'go.example.org' AND short_code IN ('dom-one', 'dom-two')`); got != 2 {
			t.Errorf("%d links on go.example.org, want 2", got)
		}
		if _, err := tryImport(t, db, rd.URL(), "csv", mustWrite(t, "x.csv", "Long URL\nhttps://example.com/x\n"), "--domain", "elsewhere.example"); err == nil {
			t.Error("a domain kurz does not serve was taken")
		}
	})
	t.Run("ErrUnknownSource", func(t *testing.T) {
		_, err := tryImport(t, pg.NewDatabase(t), rd.URL(), "tinyurl", mustWrite(t, "x", "{}"))
		if err == nil || !strings.Contains(err.Error(), "unknown source") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("ErrNotJSON", func(t *testing.T) {
		out := MustImport(t, pg.NewDatabase(t), rd.URL(), "kutt", mustWrite(t, "x", "<html>not an export</html>"))
		if !strings.Contains(out, "skipped 1: unreadable: the file is not JSON from here on") {
			t.Errorf("a file of another format:\n%s", out)
		}
	})
}
