package http_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kurzlink/kurz/backend"
	kurzhttp "github.com/kurzlink/kurz/backend/http"
)

// acceptingLinks is the domain seen from the HTTP layer, answering every valid request.
type acceptingLinks struct{ kurzhttp.Links } // methods the fuzzed handlers never call are left out

func (acceptingLinks) Shorten(_ context.Context, req backend.CreateRequest) (backend.Link, bool, error) {
	return backend.Link{Code: "aaaaaaa", URL: req.URL}, true, nil
}
func (acceptingLinks) Resolve(context.Context, string, string) (string, int, error) {
	return "https://example.com/", 301, nil
}
func (acceptingLinks) Lookup(context.Context, string) (backend.Link, error) {
	return backend.Link{}, nil
}
func (acceptingLinks) Get(context.Context, backend.Actor, string) (backend.Link, error) {
	return backend.Link{}, nil
}
func (acceptingLinks) List(context.Context, backend.Actor, backend.ListQuery) ([]backend.Link, string, error) {
	return nil, "", nil
}
func (acceptingLinks) Update(_ context.Context, _ backend.Actor, code string, _ backend.LinkPatch) (backend.Link, error) {
	return backend.Link{Code: code}, nil
}
func (acceptingLinks) Suggest(string) string { return "" }
func (acceptingLinks) Report(_ context.Context, code, _ string) (backend.Report, error) {
	return backend.Report{Code: code}, nil
}
func (acceptingLinks) Reports(context.Context, backend.Actor, int) ([]backend.Report, error) {
	return nil, nil
}
func (acceptingLinks) Delete(context.Context, backend.Actor, string) error { return nil }
func (acceptingLinks) Crawlable(context.Context, string) ([]string, error) { return nil, nil }
func (acceptingLinks) Stats(context.Context, backend.Actor, string, backend.StatsQuery) (backend.Stats, error) {
	return backend.Stats{}, nil
}
func (acceptingLinks) VisitLog(context.Context, backend.Actor, backend.VisitLogQuery) ([]backend.LoggedVisit, string, error) {
	return nil, "", nil
}
func (acceptingLinks) Health(context.Context) error { return nil }
func (acceptingLinks) Ready(context.Context) error  { return nil }

type anyKey struct{ kurzhttp.Keys } // the fuzzed handlers check keys only

func (anyKey) Check(context.Context, string) (backend.Actor, error) {
	return backend.Actor{KeyID: 1, Role: backend.RoleAdmin}, nil
}

// Whatever body a client sends to the JSON endpoints, the answer is a success
// or a 4xx with a JSON error code: never a 5xx, never a panic.
func FuzzJSONRequests(f *testing.F) {
	for _, seed := range []string{
		`{"url":"https://example.com/"}`, `{"url":"https://example.com/","alias":"launch","expires_at":"2030-01-01T00:00:00Z","max_visits":5,"redirect":302}`,
		`{"url":1}`, `{"max_visits":null}`, `{"max_visits":1e400}`, `{"url":"a"}{"url":"b"}`, `[]`, `null`, ``, `{"url":"\u0000"}`,
		`{"expires_at":"yesterday"}`, `{"redirect":"302"}`, `{"unknown":true}`, `{"url":` + strings.Repeat(`[`, 10000),
	} {
		f.Add(seed)
	}
	srv, err := kurzhttp.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), acceptingLinks{}, anyKey{},
		kurzhttp.Config{PublicURL: "http://kurz.test", OpenKeyless: true}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, req := range []struct{ method, path string }{{"POST", "/api/shorten"}, {"PATCH", "/api/links/aaaaaaa"}} {
			r := httptest.NewRequest(req.method, req.path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer key")
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%s %s with %q = %d %s", req.method, req.path, body, w.Code, w.Body)
			}
			if w.Code >= 400 {
				var e struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
					t.Fatalf("%s %s with %q = %d %q: not a JSON error", req.method, req.path, body, w.Code, w.Body)
				}
			}
		}
	})
}

var _ http.Handler = (*kurzhttp.Server)(nil)
