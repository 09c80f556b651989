package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kurzlink/kurz/backend/postgres"
	"github.com/kurzlink/kurz/internal/testenv"
)

// shortenWithKey creates a link as the holder of key ("" for anonymous).
func shortenWithKey(tb testing.TB, base, key, url string) response {
	tb.Helper()
	return testenv.Do(tb, "POST", base+"/api/shorten", `{"url":"`+url+`"}`, "Content-Type", "application/json", "Authorization", bearer(key))
}

func bearer(key string) string {
	if key == "" {
		return ""
	}
	return "Bearer " + key
}

func MustShortenWithKey(tb testing.TB, base, key, url string) string {
	tb.Helper()
	res := shortenWithKey(tb, base, key, url)
	if res.Status != http.StatusCreated && res.Status != http.StatusOK {
		tb.Fatalf("shorten %s: %d %s", url, res.Status, res.Raw)
	}
	return res.Body["short_code"].(string)
}

// Two author keys and an admin key try every management route on each
// other's links, through two replicas.
func TestKeyRolesAndOwnership(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	a, b := MustStartBackend(t, db, rd.URL(), nil), MustStartBackend(t, db, rd.URL(), nil)
	keys := map[string]string{
		"author1": MustCreateRoleKey(t, db, "author1", "author"),
		"author2": MustCreateRoleKey(t, db, "author2", "author"),
		"admin":   MustCreateRoleKey(t, db, "admin", "admin"),
	}
	links := map[string]string{ // owner → code
		"anonymous": MustShortenWithKey(t, a.URL, "", "https://example.com/roles/anonymous"),
		"author1":   MustShortenWithKey(t, b.URL, keys["author1"], "https://example.com/roles/author1"),
		"author2":   MustShortenWithKey(t, a.URL, keys["author2"], "https://example.com/roles/author2"),
	}
	want := func(who, owner string, ok int) int {
		if who == "admin" || who == owner {
			return ok
		}
		return http.StatusNotFound
	}
	for _, who := range []string{"author1", "author2", "admin"} {
		for _, owner := range []string{"anonymous", "author1", "author2"} {
			code := links[owner]
			t.Run(who+"On"+owner, func(t *testing.T) {
				for i, req := range []struct {
					method, path, body string
					ok                 int
				}{
					{"GET", "/api/links/" + code, "", http.StatusOK},
					{"PATCH", "/api/links/" + code, `{"redirect":302}`, http.StatusOK},
					{"GET", "/" + code + "/qr", "", http.StatusOK}, // public: the QR code of a public link
				} {
					base := []string{a.URL, b.URL}[i%2]
					res := doKey(t, req.method, base+req.path, keys[who], req.body)
					wantStatus := want(who, owner, req.ok)
					if req.method == "GET" && strings.HasSuffix(req.path, "/qr") {
						wantStatus = req.ok
					}
					if res.Status != wantStatus {
						t.Errorf("%s %s = %d, want %d (%s)", req.method, req.path, res.Status, wantStatus, res.Raw)
					}
					if res.Status == http.StatusNotFound && strings.Contains(res.Raw, "example.com") {
						t.Errorf("%s %s: the 404 tells about the link: %s", req.method, req.path, res.Raw)
					}
				}
			})
		}
	}
	t.Run("ListShowsOnlyOwnLinks", func(t *testing.T) {
		for who, want := range map[string]int{"author1": 1, "author2": 1, "admin": 3} {
			res := doKey(t, "GET", a.URL+"/api/links", keys[who], "")
			got, _ := res.Body["links"].([]any)
			if res.Status != http.StatusOK || len(got) != want {
				t.Errorf("%s lists %d links (%d), want %d", who, len(got), res.Status, want)
			}
		}
	})
	t.Run("DeleteAcrossKeys", func(t *testing.T) {
		if res := doKey(t, "DELETE", a.URL+"/api/links/"+links["author2"], keys["author1"], ""); res.Status != http.StatusNotFound {
			t.Errorf("author1 deleting author2's link = %d, want 404", res.Status)
		}
		if res := doKey(t, "DELETE", b.URL+"/api/links/"+links["anonymous"], keys["author2"], ""); res.Status != http.StatusNotFound {
			t.Errorf("an author deleting an anonymous link = %d, want 404", res.Status)
		}
		if res := doKey(t, "DELETE", b.URL+"/api/links/"+links["author1"], keys["author1"], ""); res.Status != http.StatusNoContent {
			t.Errorf("author1 deleting its own link = %d, want 204", res.Status)
		}
		if res := doKey(t, "DELETE", a.URL+"/api/links/"+links["author2"], keys["admin"], ""); res.Status != http.StatusNoContent {
			t.Errorf("admin deleting author2's link = %d, want 204", res.Status)
		}
		if got := MustQueryInt(t, db, `SELECT count(*) FROM url_mappings`); got != 1 {
			t.Errorf("%d links left, want 1 (the anonymous one)", got)
		}
	})
	t.Run("KeySaysItsRole", func(t *testing.T) {
		for who, want := range map[string]string{"author1": "author", "admin": "admin"} {
			if res := doKey(t, "GET", a.URL+"/api/key", keys[who], ""); res.Status != http.StatusOK || res.Body["role"] != want {
				t.Errorf("GET /api/key as %s = %d %s", who, res.Status, res.Raw)
			}
		}
	})
	t.Run("ErrWrongKeyOnOpenCreation", func(t *testing.T) {
		if res := shortenWithKey(t, a.URL, "kurz_not-a-key", "https://example.com/roles/wrong-key"); res.Status != http.StatusUnauthorized {
			t.Errorf("create with a wrong key = %d, want 401", res.Status)
		}
	})
}

// Two authors post the same URL at once: both get the one shared code, and
// exactly one of them owns it.
func TestDedupRaceBetweenAuthors(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	a, b := MustStartBackend(t, db, rd.URL(), nil), MustStartBackend(t, db, rd.URL(), nil)
	k1, k2 := MustCreateRoleKey(t, db, "one", "author"), MustCreateRoleKey(t, db, "two", "author")
	for i := 0; i < 10; i++ {
		url := fmt.Sprintf("https://example.com/roles/race/%d", i)
		var codes [2]string
		var wg sync.WaitGroup
		for j, kb := range []struct{ key, base string }{{k1, a.URL}, {k2, b.URL}} {
			wg.Add(1)
			go func() { defer wg.Done(); codes[j] = MustShortenWithKey(t, kb.base, kb.key, url) }()
		}
		wg.Wait()
		if codes[0] != codes[1] {
			t.Fatalf("%s: codes %v, want one shared code", url, codes)
		}
		owners := 0
		for _, k := range []string{k1, k2} {
			if doKey(t, "GET", a.URL+"/api/links/"+codes[0], k, "").Status == http.StatusOK {
				owners++
			}
		}
		if owners != 1 {
			t.Errorf("%s: %d of the two authors may manage the shared link, want 1", url, owners)
		}
	}
}

// A revoked key stops working on every replica within the key cache's TTL;
// its links stay and admins manage them.
func TestRevocationAcrossReplicas(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	env := map[string]string{"KURZ_KEY_CACHE_TTL": "1s"}
	a, b := MustStartBackend(t, db, rd.URL(), env), MustStartBackend(t, db, rd.URL(), env)
	author, admin := MustCreateRoleKey(t, db, "leaving", "author"), MustCreateRoleKey(t, db, "boss", "admin")
	code := MustShortenWithKey(t, a.URL, author, "https://example.com/roles/revoked")
	for _, base := range []string{a.URL, b.URL} { // remembered on both
		if res := doKey(t, "GET", base+"/api/links/"+code, author, ""); res.Status != http.StatusOK {
			t.Fatalf("before revocation: %d", res.Status)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"kurz", "keys", "revoke", "leaving"}, func(k string) string { return map[string]string{"DATABASE_URL": db}[k] }, &out); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	for _, base := range []string{a.URL, b.URL} {
		for doKey(t, "GET", base+"/api/links", author, "").Status != http.StatusUnauthorized {
			if time.Since(revoked) > 1500*time.Millisecond {
				t.Fatalf("%s still accepts the revoked key %s after the revocation", base, time.Since(revoked))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if res := do(t, "GET", b.URL+"/"+code, "", ""); res.Status != http.StatusMovedPermanently {
		t.Errorf("the revoked key's link = %d, want it still live", res.Status)
	}
	if res := doKey(t, "PATCH", b.URL+"/api/links/"+code, admin, `{"max_visits":5}`); res.Status != http.StatusOK {
		t.Errorf("admin changing the revoked key's link = %d, want 200", res.Status)
	}
}

// Keys made before roles existed become admins; new keys are authors.
func TestUpgradeMakesExistingKeysAdmins(t *testing.T) {
	url := testenv.SharedPostgres(t).NewDatabase(t)
	db, err := postgres.Open(context.Background(), url, "", 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.MigrateTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	mustExec(t, url, `INSERT INTO api_keys (name, key_hash) VALUES ('old', sha256('old')), ('old', sha256('old2'))`)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := MustQueryInt(t, url, `SELECT count(*) FROM api_keys WHERE role = 'admin'`); got != 2 {
		t.Errorf("%d keys of before the upgrade are admins, want 2", got)
	}
	var out bytes.Buffer
	env := func(k string) string { return map[string]string{"DATABASE_URL": url}[k] }
	t.Run("NewKeysAreAuthors", func(t *testing.T) {
		if err := run(ctx, []string{"kurz", "keys", "create", "--name", "new"}, env, &out); err != nil {
			t.Fatal(err)
		}
		if got := MustQueryInt(t, url, `SELECT count(*) FROM api_keys WHERE name = 'new' AND role = 'author'`); got != 1 {
			t.Errorf("new key is not an author")
		}
	})
	t.Run("OKKeyAndNoteInOneWrite", func(t *testing.T) { // `| head -1` reads both: no SIGPIPE between them
		var w countingWriter
		if err := run(ctx, []string{"kurz", "keys", "create", "--name", "piped"}, env, &w); err != nil {
			t.Fatal(err)
		}
		if got, want := w.writes, 1; got != want {
			t.Errorf("keys create wrote %d times, want %d", got, want)
		}
	})
	t.Run("ErrDuplicateName", func(t *testing.T) {
		err := run(ctx, []string{"kurz", "keys", "create", "--name", "new"}, env, &out)
		if err == nil || !strings.Contains(err.Error(), "named \"new\" already") {
			t.Errorf("a second key named new: %v, want a refusal", err)
		}
	})
	t.Run("ErrRevokeAmbiguousName", func(t *testing.T) {
		err := run(ctx, []string{"kurz", "keys", "revoke", "old"}, env, &out)
		if err == nil || !strings.Contains(err.Error(), "revoke one by its id") {
			t.Errorf("revoking by a name two keys have: %v, want a refusal naming ids", err)
		}
		if got := MustQueryInt(t, url, `SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL`); got != 0 {
			t.Errorf("%d keys revoked, want 0", got)
		}
	})
	t.Run("ListShowsRoles", func(t *testing.T) {
		out.Reset()
		if err := run(ctx, []string{"kurz", "keys", "list"}, env, &out); err != nil {
			t.Fatal(err)
		}
		if s := out.String(); strings.Contains(s, `\t`) || !strings.Contains(s, "ROLE") || !strings.Contains(s, "author") || !strings.Contains(s, "admin") {
			t.Errorf("keys list =\n%s", s)
		}
	})
}

// countingWriter counts the writes made to it.
type countingWriter struct{ writes int }

func (w *countingWriter) Write(p []byte) (int, error) { w.writes++; return len(p), nil }
