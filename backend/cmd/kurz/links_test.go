package main

import (
	"fmt"
	"net/url"
	"sync"
	"testing"

	"github.com/kurzlink/kurz/internal/testenv"
)

func TestManageLinks(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	key := MustCreateKey(t, db, "owner")
	var codes []string
	for i := 0; i < 5; i++ {
		codes = append(codes, MustShorten(t, b.URL, fmt.Sprintf("https://example.com/managed/%d", i)))
	}
	api := b.URL + "/api/links"

	t.Run("ListNewestFirstWithCursor", func(t *testing.T) {
		var seen []string
		cursor := ""
		for page := 0; page < 4; page++ {
			res := doKey(t, "GET", api+"?limit=2&cursor="+url.QueryEscape(cursor), key, "")
			if res.Status != 200 {
				t.Fatalf("page %d = %d %s", page, res.Status, res.Raw)
			}
			for _, l := range res.Body["links"].([]any) {
				seen = append(seen, l.(map[string]any)["short_code"].(string))
			}
			cursor, _ = res.Body["next_cursor"].(string)
			if cursor == "" {
				break
			}
		}
		if len(seen) != 5 || seen[0] != codes[4] || seen[4] != codes[0] {
			t.Errorf("pages gave %v, want %v newest first", seen, codes)
		}
	})
	t.Run("Search", func(t *testing.T) {
		res := doKey(t, "GET", api+"?q=managed/3", key, "")
		links, _ := res.Body["links"].([]any)
		if len(links) != 1 || links[0].(map[string]any)["short_code"] != codes[3] {
			t.Errorf("search = %s", res.Raw)
		}
	})
	t.Run("ErrBadQuery", func(t *testing.T) {
		for _, q := range []string{"?limit=0", "?limit=x", "?limit=101", "?cursor=not-a-cursor"} {
			if res := doKey(t, "GET", api+q, key, ""); res.Status != 400 {
				t.Errorf("%s = %d %s", q, res.Status, res.Raw)
			}
		}
	})
	t.Run("Get", func(t *testing.T) {
		do(t, "GET", b.URL+"/"+codes[1], "", "")
		res := doKey(t, "GET", api+"/"+codes[1], key, "")
		if res.Status != 200 || res.Body["original_url"] != "https://example.com/managed/1" || res.Body["created_at"] == nil ||
			res.Body["access_count"] == nil || res.Body["redirect"] != float64(301) {
			t.Errorf("get = %d %s", res.Status, res.Raw)
		}
		if res := doKey(t, "GET", api+"/zzzzzzz", key, ""); res.Status != 404 {
			t.Errorf("get unknown = %d", res.Status)
		}
	})
	t.Run("PatchTarget", func(t *testing.T) {
		do(t, "GET", b.URL+"/"+codes[2], "", "") // cached in Redis
		res := doKey(t, "PATCH", api+"/"+codes[2], key, `{"url":"https://example.org/moved","redirect":307}`)
		if res.Status != 200 || res.Body["original_url"] != "https://example.org/moved" {
			t.Fatalf("patch = %d %s", res.Status, res.Raw)
		}
		r := do(t, "GET", b.URL+"/"+codes[2], "", "")
		if r.Status != 307 || r.Header.Get("Location") != "https://example.org/moved" {
			t.Errorf("after patch = %d %s", r.Status, r.Header.Get("Location"))
		}
		if again := shorten(t, b.URL, "https://example.com/managed/2"); again.Body["short_code"] == codes[2] {
			t.Error("the old URL still gives the moved code")
		}
	})
	t.Run("PatchClears", func(t *testing.T) {
		doKey(t, "PATCH", api+"/"+codes[3], key, `{"max_visits":5,"expires_at":"2099-01-01T00:00:00Z"}`)
		res := doKey(t, "PATCH", api+"/"+codes[3], key, `{"max_visits":null,"expires_at":null,"redirect":null}`)
		if res.Status != 200 || res.Body["max_visits"] != nil || res.Body["expires_at"] != nil {
			t.Errorf("clear = %d %s", res.Status, res.Raw)
		}
	})
	for _, tc := range []struct {
		name, code, body string
		status           int
	}{
		{"ErrUnknownField", codes[0], `{"colour":"red"}`, 400},
		{"ErrEmpty", codes[0], `{}`, 400},
		{"ErrWrongType", codes[0], `{"max_visits":"ten"}`, 400},
		{"ErrNullURL", codes[0], `{"url":null}`, 422},
		{"ErrBadURL", codes[0], `{"url":"javascript:alert(1)"}`, 422},
		{"ErrNegativeMaxVisits", codes[0], `{"max_visits":-4}`, 422},
		{"ErrPastExpiry", codes[0], `{"expires_at":"2001-01-01T00:00:00Z"}`, 422},
		{"ErrRedirect", codes[0], `{"redirect":300}`, 422},
		{"ErrUnknownCode", "zzzzzzz", `{"url":"https://example.com/"}`, 404},
	} {
		t.Run("Patch"+tc.name, func(t *testing.T) {
			if res := doKey(t, "PATCH", api+"/"+tc.code, key, tc.body); res.Status != tc.status {
				t.Errorf("%s = %d %s, want %d", tc.body, res.Status, res.Raw, tc.status)
			}
		})
	}
	t.Run("Delete", func(t *testing.T) {
		do(t, "GET", b.URL+"/"+codes[0], "", "") // cached in Redis
		if res := doKey(t, "DELETE", api+"/"+codes[0], key, ""); res.Status != 204 {
			t.Fatalf("delete = %d %s", res.Status, res.Raw)
		}
		if r := do(t, "GET", b.URL+"/"+codes[0], "", ""); r.Status != 404 {
			t.Errorf("redirect after delete = %d", r.Status)
		}
		if res := doKey(t, "DELETE", api+"/"+codes[0], key, ""); res.Status != 404 {
			t.Errorf("delete again = %d", res.Status)
		}
	})
	t.Run("UpdatesRacingRedirects", func(t *testing.T) {
		code := codes[4]
		targets := map[string]bool{"https://example.com/managed/4": true, "https://example.com/a": true, "https://example.com/b": true}
		var wg sync.WaitGroup
		errs := make(chan string, 200)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < 25; i++ {
					if w == 0 {
						target := []string{"https://example.com/a", "https://example.com/b"}[i%2]
						if res := doKey(t, "PATCH", api+"/"+code, key, `{"url":"`+target+`"}`); res.Status != 200 {
							errs <- fmt.Sprintf("patch %d", res.Status)
						}
						continue
					}
					r := do(t, "GET", b.URL+"/"+code, "", "")
					if r.Status != 301 || !targets[r.Header.Get("Location")] {
						errs <- fmt.Sprintf("redirect %d %q", r.Status, r.Header.Get("Location"))
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	})
}
