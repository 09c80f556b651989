package plugin

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// testRedis is a real redis-server on a free port, started with the standard
// library only so that these tests also run under Yaegi.
type testRedis struct {
	addr string
	args []string
	cmd  *exec.Cmd
}

func mustStartRedis(tb testing.TB, extra ...string) *testRedis {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis-server is required in CI: %v", err)
		}
		tb.Skipf("redis-server not installed: %v", err)
	}
	port := freePort(tb)
	r := &testRedis{addr: "127.0.0.1:" + strconv.Itoa(port)}
	r.args = append([]string{bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--enable-debug-command", "local", "--repl-diskless-sync-delay", "0", "--dir", tb.TempDir()}, extra...) // replicas sync at once
	r.start(tb)
	tb.Cleanup(r.stop)
	return r
}

func (r *testRedis) start(tb testing.TB) {
	tb.Helper()
	r.cmd = exec.Command(r.args[0], r.args[1:]...)
	if err := r.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redis-server did not start on %s", r.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *testRedis) stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// mustDo runs one command on a fresh connection of its own.
func mustDo(tb testing.TB, addr string, args ...string) *call {
	tb.Helper()
	c := newRedisClient(redisOptions{addr: addr, dialTimeout: time.Second, readTimeout: time.Second, cooldown: time.Millisecond})
	cl, err := c.do(args...)
	if err != nil {
		tb.Fatalf("%v: %v", args, err)
	}
	c.p.close()
	return cl
}
