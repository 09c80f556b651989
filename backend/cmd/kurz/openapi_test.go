package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	goredis "github.com/redis/go-redis/v9"

	kurzhttp "github.com/kurzlink/kurz/backend/http"
	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

func init() { // pages and QR codes are checked for their status and type, not parsed
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("image/svg+xml", openapi3filter.FileBodyDecoder)
}

func MustLoadOpenAPI(tb testing.TB) (*openapi3.T, routers.Router) {
	tb.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(kurzhttp.OpenAPI)
	if err != nil {
		tb.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		tb.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		tb.Errorf("openapi = %s, want 3.1", doc.OpenAPI)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return doc, router
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc, _ := MustLoadOpenAPI(t)
	srv, err := kurzhttp.NewServer(slog.New(slog.DiscardHandler), nil, nil, kurzhttp.Config{PublicURL: "http://x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, route := range srv.Routes() {
		method, path, _ := strings.Cut(route, " ")
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %s is not in openapi.json", route)
		}
	}
}

// Real responses of a running backend validate against the document.
func TestOpenAPIResponsesValidate(t *testing.T) {
	_, router := MustLoadOpenAPI(t)
	pg, rd := testenv.SharedPostgres(t), testenv.SharedRedis(t)
	db := pg.NewDatabase(t)
	b := MustStartBackend(t, db, rd.URL(), nil)
	key := MustCreateKey(t, db, "openapi")
	code := MustShorten(t, b.URL, "https://example.com/openapi")
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	edge := link.EdgeStats{At: time.Now(), HotAnswers: 10, RTT: []int64{1}, Batch: []int64{1}}
	rc := goredis.NewClient(&goredis.Options{Addr: rd.Addr()})
	defer rc.Close()
	if err := rc.Set(context.Background(), link.EdgeStatsKey("openapi-edge"), link.AppendEdgeStats(nil, edge), link.EdgeStatsTTL).Err(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/shorten", `{"url":"https://example.com/openapi"}`},
		{"POST", "/api/shorten", `{"url":"https://example.com/o2","alias":"openapi-alias","expires_at":"` + future + `","max_visits":9,"redirect":302}`},
		{"POST", "/api/shorten", `{"url":"javascript:x"}`},
		{"POST", "/api/shorten", `{"url":`},
		{"GET", "/api/links", ""},
		{"GET", "/api/links?limit=1", ""},
		{"GET", "/api/links/" + code, ""},
		{"GET", "/api/links/zzzzzzz", ""},
		{"PATCH", "/api/links/" + code, `{"redirect":308}`},
		{"PATCH", "/api/links/" + code, `{"max_visits":-1}`},
		{"GET", "/api/links/" + code + "/stats", ""},
		{"GET", "/api/links/" + code + "/stats?interval=hour&from=2026-01-01", ""},
		{"GET", "/api/links/" + code + "/stats?interval=week", ""},
		{"GET", "/api/links/zzzzzzz/stats", ""},
		{"GET", "/api/stats", ""},
		{"GET", "/api/links/" + code + "/visits", ""},
		{"GET", "/api/links/zzzzzzz/visits", ""},
		{"GET", "/api/visits?limit=2", ""},
		{"GET", "/api/visits?limit=0", ""},
		{"GET", "/api/status", ""},
		{"GET", "/manage/status", ""},
		{"DELETE", "/api/links/openapi-alias", ""},
		{"GET", "/api/openapi.json", ""},
		{"GET", "/health", ""},
		{"GET", "/health/live", ""},
		{"GET", "/" + code, ""},
		{"GET", "/zzzzzzz", ""},
		{"GET", "/" + code + "/qr", ""},
		{"GET", "/", ""},
		{"GET", "/api/domains", ""},
		{"PATCH", "/api/domains/redirects", `{"root":"javascript:x"}`},
		{"PATCH", "/api/domains/redirects", `{"domain":"nope.example"}`},
		{"PATCH", "/api/domains/redirects", `{"not_found":"https://example.com/missing"}`},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, b.URL+tc.path, strings.NewReader(tc.body))
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Authorization", "Bearer "+key)
			res, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("no documented route: %v", err)
			}
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
			out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode,
				Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)),
				Options: &openapi3filter.Options{IncludeResponseStatus: true}}
			if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
				t.Errorf("%d %s does not match openapi.json: %v", res.StatusCode, body, err)
			}
		})
	}
}
