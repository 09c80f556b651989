// Package testenv starts real servers (redis-server, PostgreSQL, Traefik) as
// processes on free loopback ports for tests, and stops them afterwards.
// A missing binary skips the test on a laptop and fails it when CI=true.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
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

// Need skips tb when a server binary is missing, or fails it when CI=true.
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitTCP waits until addr accepts connections.
func WaitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting connections after %s: %w", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Process is a started server process.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	Log  string // file with its output
}

// Start runs name with args, its output in logFile; it dies with the test binary.
func Start(name string, args []string, logFile string, cred *syscall.Credential, env ...string) (*Process, error) {
	out, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true, Credential: cred}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), Log: logFile}
	go func() { cmd.Wait(); out.Close(); close(p.done) }()
	return p, nil
}

// Stop sends sig and waits up to 10 s before killing the process group.
func (p *Process) Stop(sig syscall.Signal) {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Tail returns the end of the process log, for failure messages.
func (p *Process) Tail() string {
	b, _ := os.ReadFile(p.Log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// TempDir returns a directory that lives until the shared servers stop.
func TempDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", "kurz-"+prefix+"-")
	if err != nil {
		return "", err
	}
	atExit(func() { os.RemoveAll(dir) })
	return dir, nil
}

func lookPath(env, name string, globs ...string) (string, error) {
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, g := range globs {
		if m, _ := filepath.Glob(g); len(m) > 0 {
			return m[len(m)-1], nil
		}
	}
	return "", fmt.Errorf("%s not found (set %s or install it)", name, env)
}

func itoa(n int) string { return strconv.Itoa(n) }
