package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// A fill that read Postgres before a domain was blocked and reaches Redis
// after the block took the link out (a replica whose blocklist is not read
// again yet) must not put the blocked link back.
func TestSlowFillCannotUndoABlock(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	db := pg.NewDatabase(t)
	dir := t.TempDir()
	stale, fresh := filepath.Join(dir, "stale.txt"), filepath.Join(dir, "fresh.txt")
	for _, f := range []string{stale, fresh} {
		if err := os.WriteFile(f, []byte("# none yet\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := url.Parse(db)
	slowPG := testenv.MustDelayProxy(t, u.Host)
	u.Host = slowPG.Addr()
	filler := MustStartBackend(t, u.String(), rd.URL(), map[string]string{"KURZ_POSTGRES_TIMEOUT": "3s", "KURZ_BLOCKLIST": stale})
	blocker := MustStartBackend(t, db, rd.URL(), map[string]string{"KURZ_BLOCKLIST": fresh})
	rc := MustRedisClient(t, rd)
	code := MustShorten(t, blocker.URL, "https://soon-blocked.example/page")
	warm := MustShorten(t, blocker.URL, "https://fine.example/page")
	rc.Del(context.Background(), link.CodeKey(code), link.CodeKey(warm))
	do(t, "GET", filler.URL+"/"+warm, "", "") // the filler's pooled connection, just used, is not pinged before the read below

	slowPG.Delay(0, 800*time.Millisecond) // the filler's reads are done at once, their answers come 800 ms later
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // misses Redis, reads the link before the block, fills Redis after it
		defer wg.Done()
		do(t, "GET", filler.URL+"/"+code, "", "")
	}()
	time.Sleep(200 * time.Millisecond) // the blocker reads the file again within 250 ms: before the fill lands
	if err := os.WriteFile(fresh, []byte("soon-blocked.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	slowPG.Delay(0, 0)
	time.Sleep(time.Second)
	if got, _ := rc.Get(context.Background(), link.CodeKey(code)).Result(); got != "" {
		t.Fatalf("code:%s = %q after its domain was blocked: the slow fill brought it back for the edges", code, got)
	}
}
