package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

// A domain added to the blocklist file: new links to it (or its subdomains)
// are refused, existing ones answer 410 and leave Redis, within a second.
func TestBlocklist(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	file := filepath.Join(t.TempDir(), "blocklist.txt")
	if err := os.WriteFile(file, []byte("# none yet\nalready.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := MustStartBackend(t, db, rd.URL(), map[string]string{"KURZ_BLOCKLIST": file})
	key := MustCreateKey(t, db, "ops")
	rc := MustRedisClient(t, rd)

	t.Run("ErrBlockedAtCreation", func(t *testing.T) {
		for _, u := range []string{"https://already.example/x", "https://deep.sub.already.example/x", "https://ALREADY.example./x"} {
			res := shorten(t, b.URL, u)
			if res.Status != http.StatusUnprocessableEntity || errorCode(res) != "blocked_domain" {
				t.Errorf("create %s = %d %s, want 422 blocked_domain", u, res.Status, res.Raw)
			}
		}
		if res := shorten(t, b.URL, "https://notalready.example/x"); res.Status != http.StatusCreated {
			t.Errorf("a domain that only ends alike = %d, want 201", res.Status)
		}
	})
	t.Run("ExistingLinksStopWhenBlocked", func(t *testing.T) {
		code := MustShorten(t, b.URL, "https://later.example/page")
		other := MustShorten(t, b.URL, "https://fine.example/page")
		do(t, "GET", b.URL+"/"+code, "", "") // cached in Redis
		if err := os.WriteFile(file, []byte("already.example\n0.0.0.0 later.example\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		blocked := time.Now()
		for do(t, "GET", b.URL+"/"+code, "", "").Status != http.StatusGone {
			if time.Since(blocked) > time.Second {
				t.Fatal("a link to a newly blocked domain still redirects 1 s after the file changed")
			}
			time.Sleep(20 * time.Millisecond)
		}
		testenv.Eventually(t, time.Second, func() error {
			if n, _ := rc.Exists(context.Background(), link.CodeKey(code)).Result(); n != 0 {
				return fmt.Errorf("code:%s still in Redis, where the edge would serve it", code)
			}
			return nil
		})
		if got := do(t, "GET", b.URL+"/"+code+"/qr", "", "").Status; got != http.StatusGone {
			t.Errorf("QR code of a blocked link = %d, want 410", got)
		}
		if got := do(t, "GET", b.URL+"/"+other, "", "").Status; got != http.StatusMovedPermanently {
			t.Errorf("a link to another domain = %d, want 301", got)
		}
		if res := doKey(t, "PATCH", b.URL+"/api/links/"+other, key, `{"url":"https://www.later.example/"}`); res.Status != http.StatusUnprocessableEntity || errorCode(res) != "blocked_domain" {
			t.Errorf("PATCH to a blocked domain = %d %s", res.Status, res.Raw)
		}
		page := testenv.Do(t, "GET", b.URL+"/"+code, "", "Accept", "text/html")
		if page.Status != http.StatusGone || !strings.Contains(page.Raw, "blocked") {
			t.Errorf("browser page of a blocked link = %d", page.Status)
		}
	})
	t.Run("ErrUnreadableFileAtStart", func(t *testing.T) {
		env := map[string]string{"DATABASE_URL": db, "REDIS_URL": rd.URL(), "KURZ_CODE_SECRET": testCodeSecret,
			"KURZ_LISTEN_ADDR": "127.0.0.1:0", "KURZ_METRICS_ADDR": "off", "KURZ_BLOCKLIST": filepath.Join(t.TempDir(), "missing.txt")}
		err := run(context.Background(), nil, func(k string) string { return env[k] }, &syncBuffer{})
		if err == nil || !strings.Contains(err.Error(), "KURZ_BLOCKLIST") {
			t.Errorf("run with a missing blocklist = %v, want a refusal naming KURZ_BLOCKLIST", err)
		}
	})
}
