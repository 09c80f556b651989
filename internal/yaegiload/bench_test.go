package yaegiload_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"

	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func benchHandler(b *testing.B, h http.Handler, path string) {
	req := httptest.NewRequest("GET", path, nil)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discard{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, req)
		}
	})
}

// constantRedirect is the interpreter's floor: a plugin that only answers 301.
const constantRedirect = `
package floor

import "net/http"

type H struct{ loc []string }

func New() http.Handler { return &H{loc: []string{"https://example.com/x"}} }

func (h *H) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	rw.Header()["Location"] = h.loc
	rw.WriteHeader(301)
}
`

// BenchmarkInterpreted compares the plugin under Yaegi with the interpreter's floor.
func BenchmarkInterpreted(b *testing.B) {
	rd := testenv.SharedRedis(b)
	rc := goredis.NewClient(&goredis.Options{Addr: rd.Addr()})
	defer rc.Close()
	rc.Set(context.Background(), "code:bYae001", "https://example.com/bench", 0)

	b.Run("Floor", func(b *testing.B) {
		i := interp.New(interp.Options{})
		i.Use(stdlib.Symbols)
		if _, err := i.Eval(constantRedirect); err != nil {
			b.Fatal(err)
		}
		v, err := i.Eval("floor.New()")
		if err != nil {
			b.Fatal(err)
		}
		benchHandler(b, v.Interface().(http.Handler), "/bYae001")
	})
	b.Run("HotHit", func(b *testing.B) {
		h := MustLoadPlugin(b, map[string]any{"RedisAddress": rd.Addr(), "HotCacheTTL": "1h"}, passedOn)
		warm(b, h, "/bYae001")
		benchHandler(b, h, "/bYae001")
	})
	b.Run("HotHitDomains", func(b *testing.B) { // with domains: the host router's call in front
		h := MustLoadPlugin(b, map[string]any{"RedisAddress": rd.Addr(), "HotCacheTTL": "58m", "Domains": []string{"example.com", "s.example.org"}}, passedOn)
		warm(b, h, "/bYae001")
		benchHandler(b, h, "/bYae001")
	})
	b.Run("HotHitNoAnalytics", func(b *testing.B) { // the baseline of what analytics cost a hit
		h := MustLoadPlugin(b, map[string]any{"RedisAddress": rd.Addr(), "HotCacheTTL": "59m", "DisableAnalytics": true}, passedOn)
		warm(b, h, "/bYae001")
		benchHandler(b, h, "/bYae001")
	})
	b.Run("UnknownCode", func(b *testing.B) {
		own := testenv.NewRedis(b) // codes:issued is one key per Redis
		codec, _ := link.NewCodec("the yaegi benchmark's code secret")
		oc := goredis.NewClient(&goredis.Options{Addr: own.Addr()})
		defer oc.Close()
		oc.Set(context.Background(), link.CodesIssuedKey, link.FormatIssued(codec.Fingerprint(), 1000), 0)
		h := MustLoadPlugin(b, map[string]any{"RedisAddress": own.Addr(), "CodeSecret": "the yaegi benchmark's code secret"}, passedOn)
		unknown, _ := codec.Encode(1 << 41)
		deadline := time.Now().Add(10 * time.Second)
		for serveCode(h, "/"+unknown) != http.StatusNotFound {
			if time.Now().After(deadline) {
				b.Fatal("plugin never answered 404 for an unknown code")
			}
			time.Sleep(50 * time.Millisecond)
		}
		benchHandler(b, h, "/"+unknown)
	})
	b.Run("FloorRedis", func(b *testing.B) { // make bench's Redis floor: one pipelined GET a request, nothing else
		src, err := os.ReadFile(filepath.Join(testenv.Root(), "cmd", "kurz-bench", "floor", "floorredis", "floorredis.go"))
		if err != nil {
			b.Fatal(err)
		}
		i := interp.New(interp.Options{})
		i.Use(stdlib.Symbols)
		if _, err := i.Eval(string(src)); err != nil {
			b.Fatal(err)
		}
		if _, err := i.Eval(`var floorHandler, floorErr = floorredis.New(nil, nil, &floorredis.Config{RedisAddress: "` + rd.Addr() + `"}, "floor")`); err != nil {
			b.Fatal(err)
		}
		v, err := i.Eval("floorHandler")
		if err != nil {
			b.Fatal(err)
		}
		h := v.Interface().(http.Handler)
		warm(b, h, "/bYae001")
		benchHandler(b, h, "/bYae001")
	})
	b.Run("RedisHit", func(b *testing.B) {
		h := MustLoadPlugin(b, map[string]any{"RedisAddress": rd.Addr(), "DisableHotCache": true}, passedOn)
		warm(b, h, "/bYae001")
		benchHandler(b, h, "/bYae001")
	})
	b.Run("RedisHitNoAnalytics", func(b *testing.B) { // what analytics cost a Redis hit
		h := MustLoadPlugin(b, map[string]any{"RedisAddress": rd.Addr(), "DisableHotCache": true, "DisableAnalytics": true}, passedOn)
		warm(b, h, "/bYae001")
		benchHandler(b, h, "/bYae001")
	})
}

func serveCode(h http.Handler, path string) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code
}

func warm(b *testing.B, h http.Handler, path string) {
	for n := 0; n < 1000; n++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code == 301 {
			return
		}
	}
	b.Fatal("plugin never answered 301")
}
