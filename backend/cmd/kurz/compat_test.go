package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/internal/testenv"
)

// shlinkDo sends a request of Shlink's API with the key in X-Api-Key.
func shlinkDo(tb testing.TB, method, url, key, body string, header ...string) response {
	tb.Helper()
	h := append([]string{"X-Api-Key", key}, header...)
	if body != "" {
		h = append(h, "Content-Type", "application/json")
	}
	return testenv.Do(tb, method, url, body, h...)
}

func problemType(r response) string {
	t, _ := r.Body["type"].(string)
	return strings.TrimPrefix(t, "https://shlink.io/api/error/")
}

func TestShlinkAPI(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	admin := MustCreateKey(t, db, "shlink-admin")
	rest := b.URL + "/rest/v3"

	t.Run("OKHealthWithoutKey", func(t *testing.T) {
		for _, path := range []string{"/rest/health", "/rest/v3/health", "/rest/v2/health"} {
			res := testenv.Do(t, "GET", b.URL+path, "")
			if got, want := res.Status, 200; got != want || res.Body["status"] != "pass" || res.Body["version"] != "4.6.0" {
				t.Errorf("GET %s = %d %s", path, got, res.Raw)
			}
			if got, want := res.Header.Get("Content-Type"), "application/health+json"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
		}
	})
	t.Run("ErrMissingKey", func(t *testing.T) {
		res := testenv.Do(t, "GET", rest+"/short-urls", "")
		if got, want := problemType(res), "missing-authentication"; res.Status != 401 || got != want {
			t.Errorf("no key = %d %s", res.Status, res.Raw)
		}
		if got, want := res.Header.Get("Content-Type"), "application/problem+json"; got != want {
			t.Errorf("Content-Type = %q, want %q", got, want)
		}
	})
	t.Run("ErrWrongKey", func(t *testing.T) {
		res := shlinkDo(t, "GET", rest+"/short-urls", "kurz_wrong", "")
		if got, want := problemType(res), "invalid-api-key"; res.Status != 401 || got != want {
			t.Errorf("wrong key = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("ErrUnknownRoute", func(t *testing.T) {
		res := shlinkDo(t, "GET", rest+"/no-such-thing", admin, "")
		if got, want := problemType(res), "not-found"; res.Status != 404 || got != want {
			t.Errorf("unknown route = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("OKCORSAsShlink", func(t *testing.T) {
		res := testenv.Do(t, "OPTIONS", rest+"/short-urls", "", "Origin", "https://app.shlink.io",
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-api-key,content-type")
		if res.Status != 204 || res.Header.Get("Access-Control-Allow-Origin") != "*" ||
			res.Header.Get("Access-Control-Allow-Headers") != "x-api-key,content-type" || res.Header.Get("Access-Control-Max-Age") != "3600" {
			t.Errorf("preflight = %d %v", res.Status, res.Header)
		}
		res = shlinkDo(t, "GET", rest+"/short-urls", admin, "", "Origin", "https://app.shlink.io")
		if res.Status != 200 || res.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET with Origin = %d %v", res.Status, res.Header)
		}
	})
	t.Run("OKCreateToleratesWhatFormsSend", func(t *testing.T) {
		res := shlinkDo(t, "POST", rest+"/short-urls", admin, `{"longUrl":"https://example.com/form","shortCodeLength":"5","maxVisits":"3","unknown":1,"forwardQuery":false}`)
		if res.Status != 200 || res.Body["forwardQuery"] != false {
			t.Fatalf("create = %d %s", res.Status, res.Raw)
		}
		if got, want := res.Body["meta"].(map[string]any)["maxVisits"], 3.0; got != want {
			t.Errorf("maxVisits = %v, want %v", got, want)
		}
	})
	t.Run("ErrInvalidDataNamesTheField", func(t *testing.T) {
		for body, field := range map[string]string{
			`{"longUrl":"https://example.com/a","customSlug":"a b"}`:           "customSlug",
			`{"longUrl":"https://example.com/a","validUntil":"tomorrow"}`:      "validUntil",
			`{"longUrl":"https://example.com/a","validUntil":"2001-01-01"}`:    "validUntil",
			`{"longUrl":"https://example.com/a","pathPrefix":"p"}`:             "pathPrefix",
			`{"longUrl":"https://example.com/a","shortCodeLength":2}`:          "shortCodeLength",
			`{"longUrl":"https://example.com/a","domain":"elsewhere.example"}`: "domain",
			`{"longUrl":"ftp://example.com/a"}`:                                "longUrl",
			`{"title":"no URL"}`:                                               "longUrl",
		} {
			res := shlinkDo(t, "POST", rest+"/short-urls", admin, body)
			elements, _ := res.Body["invalidElements"].([]any)
			if res.Status != 400 || problemType(res) != "invalid-data" || len(elements) != 1 || elements[0] != field {
				t.Errorf("%s = %d %s, want invalid-data on %s", body, res.Status, res.Raw, field)
			}
		}
	})
	t.Run("OKShortenFromTheQuery", func(t *testing.T) {
		q := url.Values{"apiKey": {admin}, "longUrl": {"https://example.com/bookmarklet"}, "format": {"txt"}}
		res := testenv.Do(t, "GET", rest+"/short-urls/shorten?"+q.Encode(), "")
		if res.Status != 200 || !strings.HasPrefix(string(res.Raw), "http://kurz.test/") || strings.Contains(string(res.Raw), "\n") {
			t.Errorf("shorten txt = %d %q", res.Status, res.Raw)
		}
		again := testenv.Do(t, "GET", rest+"/short-urls/shorten?"+q.Encode(), "")
		if string(again.Raw) != string(res.Raw) {
			t.Errorf("the same URL again = %q, want %q (findIfExists)", again.Raw, res.Raw)
		}
	})
	t.Run("OKEditClearsNulls", func(t *testing.T) {
		res := shlinkDo(t, "POST", rest+"/short-urls", admin, `{"longUrl":"https://example.com/edit","customSlug":"edit-me","title":"T","maxVisits":9,"validUntil":"2035-01-01T00:00:00+00:00"}`)
		if res.Status != 200 {
			t.Fatalf("create = %d %s", res.Status, res.Raw)
		}
		res = shlinkDo(t, "PATCH", rest+"/short-urls/edit-me", admin, `{"title":null,"maxVisits":null,"validUntil":null,"longUrl":"https://example.com/edited","domain":null}`)
		meta, _ := res.Body["meta"].(map[string]any)
		if res.Status != 200 || res.Body["title"] != nil || meta["maxVisits"] != nil || meta["validUntil"] != nil || res.Body["longUrl"] != "https://example.com/edited" {
			t.Errorf("edit = %d %s", res.Status, res.Raw)
		}
		if res := shlinkDo(t, "PATCH", rest+"/short-urls/edit-me?domain=elsewhere.example", admin, `{"title":"x"}`); res.Status != 404 || problemType(res) != "short-url-not-found" {
			t.Errorf("edit on a domain not served = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("OKTagsRenamedAndDeleted", func(t *testing.T) {
		res := shlinkDo(t, "POST", rest+"/short-urls", admin, `{"longUrl":"https://example.com/tagged","tags":["one","two"]}`)
		code, _ := res.Body["shortCode"].(string)
		if res := shlinkDo(t, "PUT", rest+"/tags", admin, `{"oldName":"one","newName":"uno"}`); res.Status != 204 {
			t.Fatalf("rename = %d %s\n%s", res.Status, res.Raw, b.logs)
		}
		if res := shlinkDo(t, "PUT", rest+"/tags", admin, `{"oldName":"uno","newName":"two"}`); res.Status != 409 || problemType(res) != "tag-conflict" {
			t.Errorf("rename onto an existing tag = %d %s", res.Status, res.Raw)
		}
		if res := shlinkDo(t, "DELETE", rest+"/tags?tags[]=two", admin, ""); res.Status != 204 {
			t.Fatalf("delete = %d %s", res.Status, res.Raw)
		}
		got := shlinkDo(t, "GET", rest+"/short-urls/"+code, admin, "").Body["tags"]
		if tags, _ := got.([]any); len(tags) != 1 || tags[0] != "uno" {
			t.Errorf("tags = %v, want [uno]", got)
		}
	})
	t.Run("OKOrderedPages", func(t *testing.T) {
		res := shlinkDo(t, "GET", rest+"/short-urls?orderBy=shortCode-ASC&itemsPerPage=1&page=2", admin, "")
		p, _ := res.Body["shortUrls"].(map[string]any)["pagination"].(map[string]any)
		if res.Status != 200 || p["currentPage"] != 2.0 || p["itemsPerPage"] != 1.0 || p["itemsInCurrentPage"] != 1.0 || p["pagesCount"] != p["totalItems"] {
			t.Errorf("page = %d %s", res.Status, res.Raw)
		}
		if res := shlinkDo(t, "GET", rest+"/short-urls?orderBy=colour-ASC", admin, ""); res.Status != 400 || problemType(res) != "invalid-data" {
			t.Errorf("unknown order = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("ErrMercureNotConfigured", func(t *testing.T) {
		if res := shlinkDo(t, "GET", rest+"/mercure-info", admin, ""); res.Status != 501 || problemType(res) != "mercure-not-configured" {
			t.Errorf("mercure = %d %s", res.Status, res.Raw)
		}
	})
}

// yourlsPost posts fields as ShareX does: a multipart form.
func yourlsPost(tb testing.TB, base string, fields map[string]string) (int, string, http.Header) {
	tb.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	res, err := http.Post(base+"/yourls-api.php", mw.FormDataContentType(), &body)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(res.Body)
	return res.StatusCode, out.String(), res.Header
}

func TestYOURLSAPI(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	key := MustCreateRoleKey(t, db, "sharex", "author")

	var short string
	t.Run("OKShareXMultipartSimple", func(t *testing.T) {
		status, body, _ := yourlsPost(t, b.URL, map[string]string{"signature": key, "action": "shorturl", "url": "https://example.com/sharex", "format": "simple"})
		if status != 200 || !strings.HasPrefix(body, "http://kurz.test/") || strings.ContainsAny(body, " \n") {
			t.Fatalf("shorturl simple = %d %q\n%s", status, body, b.logs)
		}
		short = body
		status, again, _ := yourlsPost(t, b.URL, map[string]string{"signature": key, "action": "shorturl", "url": "https://example.com/sharex", "format": "simple"})
		if status != 200 || again != short {
			t.Errorf("the same URL again = %d %q, want 200 %q", status, again, short)
		}
	})
	t.Run("OKExtensionFormSimple", func(t *testing.T) { // the Firefox add-on: a form post, the body matched by ^\s*(\S+)\s*$
		form := url.Values{"action": {"shorturl"}, "format": {"simple"}, "url": {"https://example.com/addon"}, "signature": {key}, "keyword": {"addon-kw"}}
		res := testenv.Do(t, "POST", b.URL+"/yourls-api.php", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
		if got, want := string(res.Raw), "http://kurz.test/addon-kw"; res.Status != 200 || got != want {
			t.Errorf("shorturl = %d %q, want 200 %q", res.Status, got, want)
		}
	})
	t.Run("OKJSONWithKeywordAndTitle", func(t *testing.T) {
		res := testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+url.Values{"signature": {key}, "action": {"shorturl"}, "url": {"https://example.com/kw"},
			"keyword": {"my-kw"}, "title": {"A title"}, "format": {"json"}}.Encode(), "")
		u, _ := res.Body["url"].(map[string]any)
		if res.Status != 200 || res.Body["status"] != "success" || res.Body["shorturl"] != "http://kurz.test/my-kw" || u["keyword"] != "my-kw" || u["title"] != "A title" || res.Body["statusCode"] != "200" {
			t.Errorf("shorturl json = %d %s", res.Status, res.Raw)
		}
		res = testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+url.Values{"signature": {key}, "action": {"shorturl"}, "url": {"https://example.com/kw2"},
			"keyword": {"my-kw"}, "format": {"json"}}.Encode(), "")
		if res.Status != 400 || res.Body["code"] != "error:keyword" || res.Body["status"] != "fail" {
			t.Errorf("taken keyword = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("OKShorturlAsXML", func(t *testing.T) { // the default format
		res := testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+url.Values{"signature": {key}, "action": {"shorturl"}, "url": {"https://example.com/xml?a=1&b=<2>"}, "keyword": {"xml-kw"}}.Encode(), "")
		var got struct {
			Status   string `xml:"status"`
			ShortURL string `xml:"shorturl"`
			URL      struct {
				Keyword string `xml:"keyword"`
				URL     string `xml:"url"`
			} `xml:"url"`
		}
		if err := xml.Unmarshal([]byte(res.Raw), &got); err != nil || res.Status != 200 || res.Header.Get("Content-Type") != "application/xml; charset=utf-8" {
			t.Fatalf("shorturl xml = %d %q: %v", res.Status, res.Raw, err)
		}
		if got.Status != "success" || got.ShortURL != "http://kurz.test/xml-kw" || got.URL.Keyword != "xml-kw" || got.URL.URL != "https://example.com/xml?a=1&b=<2>" {
			t.Errorf("shorturl xml = %+v", got)
		}
	})
	t.Run("OKVersionIsOneLineOfXML", func(t *testing.T) {
		res := testenv.Do(t, "POST", b.URL+"/yourls-api.php", "action=version", "Content-Type", "application/x-www-form-urlencoded")
		if got, want := string(res.Raw), `<?xml version="1.0"?><root><version>1.10.4</version></root>`; res.Status != 200 || got != want {
			t.Errorf("version = %d %q, want %q", res.Status, got, want)
		}
	})
	t.Run("OKTimestampSignature", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(t.Context(), []string{"kurz", "keys", "signature", "sharex"}, func(k string) string {
			return map[string]string{"DATABASE_URL": db, "KURZ_CODE_SECRET": testCodeSecret}[k]
		}, &out); err != nil {
			t.Fatal(err)
		}
		token, _, _ := strings.Cut(out.String(), "\n")
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		sum := md5.Sum([]byte(ts + token))
		res := testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+url.Values{"timestamp": {ts}, "signature": {hex.EncodeToString(sum[:])},
			"action": {"expand"}, "shorturl": {short}, "format": {"json"}}.Encode(), "")
		if res.Status != 200 || res.Body["longurl"] != "https://example.com/sharex" {
			t.Errorf("expand with a timestamp signature = %d %s", res.Status, res.Raw)
		}
		old := strconv.FormatInt(time.Now().Add(-backend.SignatureWindow-time.Minute).Unix(), 10)
		sum = md5.Sum([]byte(old + token))
		res = testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+url.Values{"timestamp": {old}, "signature": {hex.EncodeToString(sum[:])},
			"action": {"expand"}, "shorturl": {short}, "format": {"json"}}.Encode(), "")
		if res.Status != 403 {
			t.Errorf("an old timestamp = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("ErrNotLoggedIn", func(t *testing.T) {
		for name, q := range map[string]url.Values{
			"nothing":           {"action": {"shorturl"}, "url": {"https://example.com/x"}, "format": {"json"}},
			"wrong signature":   {"signature": {"kurz_nope"}, "action": {"shorturl"}, "url": {"https://example.com/x"}, "format": {"json"}},
			"password disabled": {"username": {"sharex"}, "password": {key}, "action": {"shorturl"}, "url": {"https://example.com/x"}, "format": {"json"}},
		} {
			res := testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+q.Encode(), "")
			if res.Status != 403 || res.Body["errorCode"] != "403" {
				t.Errorf("%s = %d %s", name, res.Status, res.Raw)
			}
		}
	})
	t.Run("OKStats", func(t *testing.T) {
		res := testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+url.Values{"signature": {key}, "action": {"url-stats"}, "shorturl": {"my-kw"}, "format": {"json"}}.Encode(), "")
		l, _ := res.Body["link"].(map[string]any)
		if res.Status != 200 || l["url"] != "https://example.com/kw" || l["clicks"] != "0" {
			t.Errorf("url-stats = %d %s", res.Status, res.Raw)
		}
		res = testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+url.Values{"signature": {key}, "action": {"stats"}, "filter": {"last"}, "limit": {"1"}, "format": {"json"}}.Encode(), "")
		links, _ := res.Body["links"].(map[string]any)
		stats, _ := res.Body["stats"].(map[string]any)
		if res.Status != 200 || len(links) != 1 || stats["total_links"] != 4.0 || stats["total_clicks"] != 0.0 {
			t.Errorf("stats = %d %s", res.Status, res.Raw)
		}
		res = testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+url.Values{"signature": {key}, "action": {"db-stats"}, "format": {"json"}}.Encode(), "")
		if s, _ := res.Body["db-stats"].(map[string]any); res.Status != 200 || s["total_links"] != 4.0 {
			t.Errorf("db-stats = %d %s", res.Status, res.Raw)
		}
		res = testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+url.Values{"signature": {key}, "action": {"expand"}, "shorturl": {"gone-kw"}, "format": {"json"}}.Encode(), "")
		if res.Status != 404 || res.Body["errorCode"] != "404" {
			t.Errorf("expand of a missing keyword = %d %s", res.Status, res.Raw)
		}
	})
	t.Run("OKJSONP", func(t *testing.T) {
		res := testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+url.Values{"signature": {key}, "action": {"db-stats"}, "format": {"jsonp"}, "callback": {"cb.done"}}.Encode(), "")
		if res.Status != 200 || !strings.HasPrefix(string(res.Raw), "cb.done({") || res.Header.Get("Content-Type") != "application/javascript; charset=utf-8" {
			t.Errorf("jsonp = %d %q", res.Status, res.Raw)
		}
		res = testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+url.Values{"signature": {key}, "action": {"db-stats"}, "format": {"jsonp"}, "callback": {"alert(1)//"}}.Encode(), "")
		if res.Status != 400 {
			t.Errorf("jsonp with a bad callback = %d %q", res.Status, res.Raw)
		}
	})
	t.Run("ErrUnknownAction", func(t *testing.T) {
		res := testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+url.Values{"signature": {key}, "action": {"delete"}, "format": {"json"}}.Encode(), "")
		if res.Status != 400 || res.Body["errorCode"] != "400" {
			t.Errorf("unknown action = %d %s", res.Status, res.Raw)
		}
	})
}

func TestYOURLSPasswords(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), map[string]string{"KURZ_YOURLS_PASSWORDS": "true"})
	key := MustCreateRoleKey(t, db, "old-client", "author")
	for name, tc := range map[string]struct {
		user string
		want int
	}{"OKNameAndKey": {"old-client", 200}, "ErrOtherName": {"someone", 403}} {
		t.Run(name, func(t *testing.T) {
			res := testenv.Do(t, "GET", b.URL+"/yourls-api.php?"+url.Values{"username": {tc.user}, "password": {key}, "action": {"db-stats"}, "format": {"json"}}.Encode(), "")
			if res.Status != tc.want {
				t.Errorf("got %d %s, want %d", res.Status, res.Raw, tc.want)
			}
		})
	}
}
