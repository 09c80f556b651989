package yaegiload_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"

	"github.com/kurzlink/kurz/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// MustGOPATH lays out GOPATH/src/github.com/kurzlink/kurz as Traefik's plugins-local does.
func MustGOPATH(tb testing.TB) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	gopath := tb.TempDir()
	dir := filepath.Join(gopath, "src", "github.com", "kurzlink")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(dir, "kurz")); err != nil {
		tb.Fatal(err)
	}
	return gopath
}

// MustLoadPlugin builds the middleware in an interpreter, as Traefik's plugin builder does.
func MustLoadPlugin(tb testing.TB, settings map[string]any, next http.Handler) http.Handler {
	tb.Helper()
	i := interp.New(interp.Options{GoPath: MustGOPATH(tb), Env: os.Environ()})
	if err := i.Use(stdlib.Symbols); err != nil {
		tb.Fatal(err)
	}
	if _, err := i.Eval(`import "github.com/kurzlink/kurz/plugin"`); err != nil {
		tb.Fatalf("import: %v", err)
	}
	create, err := i.Eval("plugin.CreateConfig")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := create.Call(nil)[0]
	for name, v := range settings {
		f := cfg.Elem().FieldByName(name)
		if !f.IsValid() {
			tb.Fatalf("no config field %s", name)
		}
		f.Set(reflect.ValueOf(v).Convert(f.Type()))
	}
	newFn, err := i.Eval("plugin.New")
	if err != nil {
		tb.Fatal(err)
	}
	out := newFn.Call([]reflect.Value{reflect.ValueOf(context.Background()), reflect.ValueOf(next), cfg, reflect.ValueOf("kurz")})
	if errV := out[1]; !errV.IsNil() {
		tb.Fatalf("New: %v", errV.Interface())
	}
	return out[0].Interface().(http.Handler)
}

var passedOn = http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusTeapot) })

func get(h http.Handler, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestLoadsLikeTraefik(t *testing.T) {
	rd := testenv.SharedRedis(t)
	rc := goredis.NewClient(&goredis.Options{Addr: rd.Addr()})
	defer rc.Close()
	ctx := context.Background()
	rc.Set(ctx, "code:yHit001", "https://example.com/yaegi", 0)
	rc.Set(ctx, "code:yBad001", "javascript:alert(1)", 0)

	t.Run("ErrConfig", func(t *testing.T) {
		i := interp.New(interp.Options{GoPath: MustGOPATH(t)})
		i.Use(stdlib.Symbols)
		if _, err := i.Eval(`import "github.com/kurzlink/kurz/plugin"`); err != nil {
			t.Fatal(err)
		}
		v, err := i.Eval(`func() error { c := plugin.CreateConfig(); c.RedirectStatus = 200; _, err := plugin.New(nil, nil, c, "x"); return err }()`)
		if err != nil || v.IsNil() {
			t.Fatalf("New with a bad status gave no error (%v)", err)
		}
	})

	h := MustLoadPlugin(t, map[string]any{"RedisAddress": rd.Addr(), "HotCacheTTL": "200ms", "FlushInterval": "50ms"}, passedOn)
	rc.Set(ctx, "code:yWarm01", "https://example.com/warm", 0)
	for deadline := time.Now().Add(5 * time.Second); get(h, "GET", "/yWarm01").Code != 301; { // New connects in the background
		if time.Now().After(deadline) {
			t.Fatal("plugin never answered from Redis")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, tc := range []struct {
		name, method, path string
		status             int
	}{
		{"OKFromRedis", "GET", "/yHit001", 301},
		{"OKFromHotCache", "GET", "/yHit001", 301},
		{"OKHead", "HEAD", "/yHit001", 301},
		{"Miss", "GET", "/yMiss01", 418},
		{"BadValue", "GET", "/yBad001", 418},
		{"BadShape", "GET", "/y!x", 418},
		{"Post", "POST", "/yHit001", 418},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(h, tc.method, tc.path)
			if got, want := rec.Code, tc.status; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			if tc.status == 301 && rec.Header().Get("Location") != "https://example.com/yaegi" {
				t.Errorf("Location = %q", rec.Header().Get("Location"))
			}
		})
	}

	t.Run("Load", func(t *testing.T) {
		const workers, perWorker, codes = 16, 250, 50
		for c := 0; c < codes; c++ {
			rc.Set(ctx, fmt.Sprintf("code:yL%05d", c), fmt.Sprintf("https://example.com/%d", c), 0)
		}
		before, _ := rc.HGet(ctx, "hits", "yL00000").Int64()
		var wg sync.WaitGroup
		var mu sync.Mutex
		failures := 0
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for n := 0; n < perWorker; n++ {
					c := (w + n) % codes
					rec := get(h, "GET", fmt.Sprintf("/yL%05d", c))
					if rec.Code != 301 || rec.Header().Get("Location") != fmt.Sprintf("https://example.com/%d", c) {
						mu.Lock()
						failures++
						mu.Unlock()
					}
				}
			}(w)
		}
		wg.Wait()
		if failures > 0 {
			t.Errorf("%d of %d interpreted requests failed", failures, workers*perWorker)
		}
		want := before + workers*perWorker/codes
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, _ := rc.HGet(ctx, "hits", "yL00000").Int64()
			if got == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("hits of yL00000 = %d, want %d", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("RedisDown", func(t *testing.T) {
		own := testenv.NewRedis(t)
		h := MustLoadPlugin(t, map[string]any{"RedisAddress": own.Addr(), "DisableHotCache": true, "Cooldown": "200ms"}, passedOn)
		own.Stop()
		for n := 0; n < 50; n++ {
			if got := get(h, "GET", "/yHit001").Code; got != 418 {
				t.Fatalf("with Redis down = %d, want passed on", got)
			}
		}
	})
}
