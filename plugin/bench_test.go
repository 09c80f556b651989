package plugin

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discard is a ResponseWriter that costs nothing, so the benchmark measures the plugin.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func benchServe(b *testing.B, h http.Handler, path string) {
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

// BenchmarkServeHTTP compares a hot-cache hit and a Redis hit with passing the request on.
func BenchmarkServeHTTP(b *testing.B) {
	r := mustStartRedis(b)
	mustDo(b, r.addr, "SET", "code:bHot001", "https://example.com/bench")
	b.Run("PassedOn", func(b *testing.B) {
		h, _ := mustNewConnected(b, testConfig(r.addr, "21s"))
		benchServe(b, h, "/api/x")
	})
	b.Run("HotHit", func(b *testing.B) {
		h, _ := mustNewConnected(b, testConfig(r.addr, "22s"))
		benchServe(b, h, "/bHot001")
	})
	b.Run("RedisHit", func(b *testing.B) {
		cfg := testConfig(r.addr, "23s")
		cfg.DisableHotCache = true
		h, _ := mustNewConnected(b, cfg)
		benchServe(b, h, "/bHot001")
	})
}
