// Package testenv gives tests real servers (redis-server, PostgreSQL, and the
// whole stack behind Traefik) on free loopback ports, and stops them afterwards.
// A missing server skips the test on a laptop and fails it when CI=true.
package testenv

import (
	"os"
	"sync"
	"testing"

	"github.com/kurzlink/kurz/internal/stack"
)

var (
	mu       sync.Mutex
	cleanups []func()
)

// Main runs the tests and then stops every shared server: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	mu.Unlock()
	os.Exit(code)
}

func atExit(f func()) {
	mu.Lock()
	cleanups = append(cleanups, f)
	mu.Unlock()
}

// Need skips tb when a server is missing, or fails it when CI=true.
func Need(tb testing.TB, what string, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s is required in CI: %v", what, err)
	}
	tb.Skipf("%s not available: %v (run .ci/run or install it)", what, err)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	p, err := stack.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TempDir returns a directory that lives until the shared servers stop.
func TempDir(tb testing.TB, prefix string) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "kurz-"+prefix+"-")
	if err == nil {
		err = os.Chmod(dir, 0o755) // PostgreSQL runs as its own user when we are root
	}
	if err != nil {
		tb.Fatal(err)
	}
	atExit(func() { os.RemoveAll(dir) })
	return dir
}

// WaitTCP is stack.WaitTCP, for tests.
var WaitTCP = stack.WaitTCP

// StartLoad runs request(worker, i) in a loop on workers goroutines (i
// counts each worker's requests) until the returned stop is called; stop
// may be called more than once.
func StartLoad(workers int, request func(worker, i int)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				request(w, i)
			}
		}()
	}
	var once sync.Once
	return func() { once.Do(func() { close(done) }); wg.Wait() }
}
