package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

// redirectOn is where code redirects when asked for on host (status, Location).
func redirectOn(tb testing.TB, base, host, code string) (int, string) {
	tb.Helper()
	res := testenv.Do(tb, "GET", base+"/"+code, "", "Host", host)
	return res.Status, res.Header.Get("Location")
}

func TestDomains(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), map[string]string{"KURZ_DOMAINS": "kurz.test,s.example.org"})
	key := MustCreateKey(t, db, "domains")
	author := MustCreateRoleKey(t, db, "author", "author")

	onDefault := MustCreate(t, b.URL, key, `{"url":"https://example.com/default","alias":"launch"}`)
	onOther := MustCreate(t, b.URL, key, `{"url":"https://example.com/other","alias":"launch","domain":"S.Example.org"}`)
	generated := MustCreate(t, b.URL, author, `{"url":"https://example.com/generated","domain":"s.example.org"}`)
	code := generated["short_code"].(string)

	t.Run("OKSameCodeOnTwoDomains", func(t *testing.T) {
		if got, want := onDefault["short_url"], "http://kurz.test/launch"; got != want {
			t.Errorf("default short_url = %v, want %v", got, want)
		}
		if onDefault["domain"] != nil {
			t.Errorf("a default-domain link names its domain: %v", onDefault)
		}
		if got, want := onOther["short_url"], "http://s.example.org/launch"; got != want || onOther["domain"] != "s.example.org" {
			t.Errorf("other short_url = %v, domain %v; want %v on s.example.org", got, onOther["domain"], want)
		}
		for _, tc := range []struct{ host, code, want string }{
			{"kurz.test", "launch", "https://example.com/default"},
			{"s.example.org", "launch", "https://example.com/other"},
			{"S.EXAMPLE.ORG:8000", "launch", "https://example.com/other"},
			{"s.example.org", code, "https://example.com/generated"},
		} {
			for round := 0; round < 2; round++ { // from Postgres, then from Redis
				if status, got := redirectOn(t, b.URL, tc.host, tc.code); status != http.StatusMovedPermanently || got != tc.want {
					t.Errorf("%s/%s (round %d) = %d %q, want 301 to %s", tc.host, tc.code, round, status, got, tc.want)
				}
			}
		}
		if status, _ := redirectOn(t, b.URL, "kurz.test", code); status != http.StatusNotFound {
			t.Errorf("a code of s.example.org on the default domain = %d, want 404", status)
		}
	})
	t.Run("OKCountedPerDomain", func(t *testing.T) {
		waitCount := func(path string, want float64) {
			t.Helper()
			testenv.Eventually(t, 10*time.Second, func() error {
				if got := doKey(t, "GET", b.URL+path, key, "").Body["access_count"]; got != want {
					return fmt.Errorf("%s access_count = %v, want %v", path, got, want)
				}
				return nil
			})
		}
		waitCount("/api/links/launch", 2)
		waitCount("/api/links/launch?domain=s.example.org", 4)
	})
	t.Run("OKDedupPerDomain", func(t *testing.T) {
		a := MustShorten(t, b.URL, "https://example.com/dedup")
		other := MustCreate(t, b.URL, key, `{"url":"https://example.com/dedup","domain":"s.example.org"}`)["short_code"]
		again := doKey(t, "POST", b.URL+"/api/shorten", key, `{"url":"https://example.com/dedup","domain":"s.example.org"}`)
		if other == a || again.Status != http.StatusOK || again.Body["short_code"] != other {
			t.Errorf("dedup: default %v, other %v, again %d %v; want one link per domain", a, other, again.Status, again.Body["short_code"])
		}
	})
	t.Run("OKManageOneDomain", func(t *testing.T) {
		res := doKey(t, "PATCH", b.URL+"/api/links/launch?domain=s.example.org", key, `{"url":"https://example.com/changed"}`)
		if res.Status != http.StatusOK || res.Body["domain"] != "s.example.org" {
			t.Fatalf("patch = %d %s", res.Status, res.Raw)
		}
		if _, got := redirectOn(t, b.URL, "s.example.org", "launch"); got != "https://example.com/changed" {
			t.Errorf("after the patch s.example.org/launch → %q", got)
		}
		if _, got := redirectOn(t, b.URL, "kurz.test", "launch"); got != "https://example.com/default" {
			t.Errorf("the patch of s.example.org/launch changed kurz.test/launch: → %q", got)
		}
		list := codesOf(t, doKey(t, "GET", b.URL+"/api/links?domain=s.example.org", key, ""))
		if len(list) != 3 {
			t.Errorf("links of s.example.org = %v, want 3", list)
		}
		if res := doKey(t, "DELETE", b.URL+"/api/links/launch?domain=s.example.org", key, ""); res.Status != http.StatusNoContent {
			t.Fatalf("delete = %d %s", res.Status, res.Raw)
		}
		if status, _ := redirectOn(t, b.URL, "s.example.org", "launch"); status != http.StatusNotFound {
			t.Errorf("deleted s.example.org/launch = %d, want 404", status)
		}
		if status, _ := redirectOn(t, b.URL, "kurz.test", "launch"); status != http.StatusMovedPermanently {
			t.Errorf("kurz.test/launch after deleting s.example.org/launch = %d, want 301", status)
		}
	})
	t.Run("OKVisitLogOfADomain", func(t *testing.T) {
		visits := waitLogged(t, b.URL+"/api/visits?domain=s.example.org", key, 2) // the generated one's; launch was deleted with its visits
		for _, v := range visits {
			if v["domain"] != "s.example.org" {
				t.Errorf("a visit of another domain in s.example.org's log: %v", v)
			}
		}
		waitLogged(t, b.URL+"/api/visits?domain=kurz.test", key, 2)
	})
	t.Run("OKReportedByItsShortURL", func(t *testing.T) {
		res := do(t, "POST", b.URL+"/api/reports", "application/json", `{"code":"http://s.example.org/`+code+`","reason":"spam"}`)
		if res.Status != http.StatusCreated {
			t.Fatalf("report = %d %s", res.Status, res.Raw)
		}
		list := doKey(t, "GET", b.URL+"/api/reports", author, "").Body["reports"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["code"] != "s.example.org/"+code {
			t.Errorf("the author's reports = %v, want the one of s.example.org/%s", list, code)
		}
		if res := do(t, "POST", b.URL+"/api/reports", "application/json", `{"code":"http://evil.example/`+code+`","reason":"spam"}`); res.Status != http.StatusNotFound {
			t.Errorf("a report of another host's URL = %d, want 404", res.Status)
		}
	})
	t.Run("OKAuthorSeesOwnLinksOnEveryDomain", func(t *testing.T) {
		if got := codesOf(t, doKey(t, "GET", b.URL+"/api/links", author, "")); len(got) != 1 || got[0] != code {
			t.Errorf("the author lists %v, want only %s", got, code)
		}
		if res := doKey(t, "GET", b.URL+"/api/links/launch", author, ""); res.Status != http.StatusNotFound {
			t.Errorf("the author reads another's link: %d", res.Status)
		}
	})
	t.Run("ErrUnknownDomain", func(t *testing.T) {
		for _, tc := range []struct{ method, path, body string }{
			{"POST", "/api/shorten", `{"url":"https://example.com/x","domain":"nope.example"}`},
			{"GET", "/api/links/launch?domain=nope.example", ""},
			{"GET", "/api/links?domain=nope.example", ""},
		} {
			res := doKey(t, tc.method, b.URL+tc.path, key, tc.body)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Raw, "not served here") {
				t.Errorf("%s %s = %d %s, want 422 naming the domains", tc.method, tc.path, res.Status, res.Raw)
			}
		}
	})
}

func TestDomainsSettings(t *testing.T) {
	base := map[string]string{"KURZ_CODE_SECRET": testCodeSecret, "KURZ_PUBLIC_URL": "https://go.example.com"}
	for _, tc := range []struct{ name, domains, want string }{
		{"OKDefaultFromPublicURL", "", ""},
		{"OKSeveral", "go.example.com, s.example.org", ""},
		{"ErrDefaultNotPublicHost", "s.example.org,go.example.com", `must be KURZ_PUBLIC_URL's host "go.example.com"`},
		{"ErrScheme", "go.example.com,https://s.example.org", "is not a domain name"},
		{"ErrPort", "go.example.com,s.example.org:8000", "is not a domain name"},
		{"ErrTwice", "go.example.com,go.example.com", "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"KURZ_DOMAINS": tc.domains}
			for k, v := range base {
				env[k] = v
			}
			cfg, err := loadConfig(func(k string) string { return env[k] })
			if tc.want == "" && err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("loadConfig error = %v, want it to say %q", err, tc.want)
			}
			if tc.want == "" && cfg.Domains.Name("") != "go.example.com" {
				t.Errorf("default domain = %q, want go.example.com", cfg.Domains.Name(""))
			}
		})
	}
}

// Links of the schema before domains (migration 15) land on the default
// domain with their codes; the same codes are free on another domain.
func TestUpgradeLandsOldLinksOnTheDefaultDomain(t *testing.T) {
	url, upgrade := MustDatabaseAt(t, 15)
	generated, _ := testenv.MustCodec(t, testCodeSecret).Encode(2) // the last id: the backend checks its code against the secret
	mustExec(t, url, `INSERT INTO url_mappings (id, short_code, original_url, url_hash, access_count, tags)
		VALUES (nextval('url_mappings_id_seq'), 'old-alias', 'https://example.com/old', sha256('https://example.com/old'), 7, '{kept}')`)
	mustExec(t, url, `INSERT INTO edge_aliases (code) VALUES ('old-alias')`)
	mustExec(t, url, `INSERT INTO url_mappings (id, short_code, original_url, url_hash, dedup, access_count)
		VALUES (nextval('url_mappings_id_seq'), $1, 'https://example.com/generated', sha256('https://example.com/generated'), true, 3)`, generated)
	upgrade()
	b := MustStartBackend(t, url, testenv.NewRedis(t).URL(), map[string]string{"KURZ_DOMAINS": "kurz.test,s.example.org"})
	key := MustCreateKey(t, url, "upgrade")
	for code, target := range map[string]string{"old-alias": "https://example.com/old", generated: "https://example.com/generated"} {
		if status, got := redirectOn(t, b.URL, "kurz.test", code); status != http.StatusMovedPermanently || got != target {
			t.Errorf("old link %s on the default domain = %d %q, want 301 to %s", code, status, got, target)
		}
		if status, _ := redirectOn(t, b.URL, "s.example.org", code); status != http.StatusNotFound {
			t.Errorf("old link %s on s.example.org = %d, want 404", code, status)
		}
	}
	res := doKey(t, "GET", b.URL+"/api/links/old-alias", key, "")
	if res.Status != http.StatusOK || res.Body["domain"] != nil || res.Body["access_count"] != float64(7) || fmt.Sprint(res.Body["tags"]) != "[kept]" {
		t.Errorf("old link after the upgrade = %d %s", res.Status, res.Raw)
	}
	again := MustShorten(t, b.URL, "https://example.com/generated")
	if again != generated {
		t.Errorf("a plain create of an old link's URL = %s, want its code %s (deduplicated on the default domain)", again, generated)
	}
	MustCreate(t, b.URL, key, `{"url":"https://example.com/new","alias":"old-alias","domain":"s.example.org"}`)
}

// MustCreateDomainKey makes a key of role limited to domain with the CLI.
func MustCreateDomainKey(tb testing.TB, databaseURL, name, role, domain string) string {
	tb.Helper()
	var out strings.Builder
	env := map[string]string{"DATABASE_URL": databaseURL}
	args := []string{"kurz", "keys", "create", "--name", name, "--role", role, "--domain", domain}
	if err := run(context.Background(), args, func(k string) string { return env[k] }, &out); err != nil {
		tb.Fatalf("keys create: %v", err)
	}
	key, _, _ := strings.Cut(out.String(), "\n")
	return key
}

// A key limited to one domain makes, lists and manages that domain's links only.
func TestKeysLimitedToADomain(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), map[string]string{"KURZ_DOMAINS": "kurz.test,s.example.org,t.example.org"})
	admin := MustCreateKey(t, db, "admin")
	limited := MustCreateDomainKey(t, db, "s-admin", "admin", "S.example.org")
	onDefault := MustCreate(t, b.URL, admin, `{"url":"https://example.com/default","alias":"shared"}`)
	made := MustCreate(t, b.URL, limited, `{"url":"https://example.com/s","alias":"shared"}`) // no domain named: the key's

	t.Run("OKCreatesOnItsDomain", func(t *testing.T) {
		if made["domain"] != "s.example.org" || onDefault["domain"] != nil {
			t.Errorf("the limited key's create = %v, want it on s.example.org", made)
		}
		MustCreate(t, b.URL, limited, `{"url":"https://example.com/s2","domain":"s.example.org"}`)
		if res := doKey(t, "GET", b.URL+"/api/key", limited, ""); res.Body["domain"] != "s.example.org" {
			t.Errorf("GET /api/key = %s, want its domain", res.Raw)
		}
	})
	t.Run("OKListsItsDomainOnly", func(t *testing.T) {
		res := doKey(t, "GET", b.URL+"/api/links", limited, "")
		for _, l := range res.Body["links"].([]any) {
			if l.(map[string]any)["domain"] != "s.example.org" {
				t.Errorf("the limited key lists %v", l)
			}
		}
		if n := len(res.Body["links"].([]any)); n != 2 {
			t.Errorf("the limited key lists %d links, want 2", n)
		}
	})
	t.Run("ErrOtherDomains", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, body string
			status             int
		}{
			{"POST", "/api/shorten", `{"url":"https://example.com/x","domain":"t.example.org"}`, http.StatusForbidden},
			{"POST", "/api/shorten", `{"url":"https://example.com/x","domain":"kurz.test"}`, http.StatusForbidden},
			{"GET", "/api/links/shared", "", http.StatusNotFound},
			{"PATCH", "/api/links/shared", `{"url":"https://example.com/hijacked"}`, http.StatusNotFound},
			{"DELETE", "/api/links/shared", "", http.StatusNotFound},
			{"GET", "/api/links?domain=t.example.org", "", http.StatusForbidden},
			{"GET", "/api/stats", "", http.StatusForbidden},
		} {
			if res := doKey(t, tc.method, b.URL+tc.path, limited, tc.body); res.Status != tc.status {
				t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, res.Status, res.Raw, tc.status)
			}
		}
		if _, got := redirectOn(t, b.URL, "kurz.test", "shared"); got != "https://example.com/default" {
			t.Errorf("the default domain's link after the limited key's attempts → %q", got)
		}
	})
	t.Run("ErrNotServed", func(t *testing.T) {
		stale := MustCreateDomainKey(t, db, "gone", "admin", "gone.example.org")
		if res := doKey(t, "GET", b.URL+"/api/links", stale, ""); res.Status != http.StatusUnauthorized || !strings.Contains(res.Raw, "not served here") {
			t.Errorf("a key of a domain not served = %d %s, want 401 saying so", res.Status, res.Raw)
		}
	})
}

// Each domain may send its root, and codes it has no link for, elsewhere.
func TestDomainRedirects(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	db := pg.NewDatabase(t)
	env := map[string]string{"KURZ_DOMAINS": "kurz.test,s.example.org"}
	b := MustStartBackend(t, db, rd.URL(), env)
	other := MustStartBackend(t, db, rd.URL(), env)
	admin := MustCreateKey(t, db, "admin")
	set := func(key, body string) response {
		t.Helper()
		return doKey(t, "PATCH", b.URL+"/api/domains/redirects", key, body)
	}
	if res := set(admin, `{"domain":"s.example.org","root":"https://example.com/home","not_found":"https://example.com/missing"}`); res.Status != http.StatusOK {
		t.Fatalf("set = %d %s", res.Status, res.Raw)
	}
	t.Run("OKRootAndNotFound", func(t *testing.T) {
		for _, tc := range []struct {
			base, host, path string
			status           int
			location         string
		}{
			{b.URL, "s.example.org", "/", http.StatusFound, "https://example.com/home"},
			{b.URL, "s.example.org", "/zzzzzzz", http.StatusFound, "https://example.com/missing"},
			{b.URL, "s.example.org", "/no-such-alias", http.StatusFound, "https://example.com/missing"},
			{b.URL, "kurz.test", "/", http.StatusOK, ""},
			{b.URL, "kurz.test", "/zzzzzzz", http.StatusNotFound, ""},
		} {
			res := testenv.Do(t, "GET", tc.base+tc.path, "", "Host", tc.host)
			if res.Status != tc.status || res.Header.Get("Location") != tc.location {
				t.Errorf("%s%s = %d %q, want %d %q", tc.host, tc.path, res.Status, res.Header.Get("Location"), tc.status, tc.location)
			}
		}
	})
	t.Run("OKEveryReplicaWithinTheRefresh", func(t *testing.T) {
		testenv.Eventually(t, 3*backend.RedirectsRefresh, func() error {
			if res := testenv.Do(t, "GET", other.URL+"/", "", "Host", "s.example.org"); res.Status != http.StatusFound {
				return fmt.Errorf("the other replica answers %d", res.Status)
			}
			return nil
		})
	})
	t.Run("OKListed", func(t *testing.T) {
		res := doKey(t, "GET", b.URL+"/api/domains", admin, "")
		want := `{"domains":[{"domain":"kurz.test","default":true,"redirects":{"root":null,"not_found":null}},{"domain":"s.example.org","default":false,"redirects":{"root":"https://example.com/home","not_found":"https://example.com/missing"}}]}`
		if strings.TrimSpace(res.Raw) != want {
			t.Errorf("GET /api/domains = %s, want %s", res.Raw, want)
		}
	})
	t.Run("OKDefaultsPublishedForTheEdge", func(t *testing.T) {
		rc := MustRedisClient(t, rd)
		if res := set(admin, `{"not_found":"https://example.com/gone"}`); res.Status != http.StatusOK {
			t.Fatalf("set = %d %s", res.Status, res.Raw)
		}
		if got := rc.Get(context.Background(), link.NotFoundRedirectKey).Val(); got != "https://example.com/gone" {
			t.Errorf("%s = %q after setting the default's", link.NotFoundRedirectKey, got)
		}
		set(admin, `{"not_found":null}`)
		if n := rc.Exists(context.Background(), link.NotFoundRedirectKey).Val(); n != 0 {
			t.Errorf("%s still there after clearing it", link.NotFoundRedirectKey)
		}
	})
	t.Run("ErrRefused", func(t *testing.T) {
		author := MustCreateRoleKey(t, db, "author", "author")
		limited := MustCreateDomainKey(t, db, "s-admin", "admin", "s.example.org")
		for _, tc := range []struct {
			key, body string
			status    int
		}{
			{admin, `{"domain":"s.example.org","root":"javascript:alert(1)"}`, http.StatusUnprocessableEntity},
			{admin, `{"domain":"s.example.org","not_found":"http://kurz.test/loop"}`, http.StatusUnprocessableEntity},
			{admin, `{"domain":"nope.example","root":"https://example.com/"}`, http.StatusUnprocessableEntity},
			{author, `{"domain":"s.example.org","root":"https://example.com/"}`, http.StatusForbidden},
			{limited, `{"root":"https://example.com/"}`, http.StatusForbidden},
			{limited, `{"domain":"s.example.org","root":"https://example.com/s-home"}`, http.StatusOK},
		} {
			if res := set(tc.key, tc.body); res.Status != tc.status {
				t.Errorf("%s = %d %s, want %d", tc.body, res.Status, res.Raw, tc.status)
			}
		}
	})
}
