package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/netsplit"
	"github.com/kurzlink/kurz/internal/stack"
)

var (
	sharedStack     *stack.Stack
	sharedStackErr  error
	sharedStackOnce sync.Once
)

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// SharedStack starts the whole system once per test binary — Redis, Postgres,
// three backend replicas built from this checkout, and the pinned Traefik with
// the edge plugin — on free ports. env adds KURZ_* settings (first call wins).
func SharedStack(tb testing.TB, env map[string]string) *stack.Stack {
	tb.Helper()
	sharedStackOnce.Do(func() {
		sharedStack, sharedStackErr = startStack(tb, env)
		if sharedStack != nil {
			atExit(sharedStack.Stop)
		}
	})
	Need(tb, "the kurz stack (redis-server, postgresql, bin/traefik from make traefik)", sharedStackErr)
	return sharedStack
}

// NewStack starts a whole system of the test's own, which it may stop, kill
// and start in parts; it is stopped when the test ends. configure may change
// the configuration before it starts (ports come fresh on each attempt).
func NewStack(tb testing.TB, env map[string]string, configure ...func(*stack.Config)) *stack.Stack {
	tb.Helper()
	s, err := startStack(tb, env, configure...)
	Need(tb, "the kurz stack (redis-server, postgresql, bin/traefik from make traefik)", err)
	tb.Cleanup(s.Stop)
	return s
}

// NewHAStack is NewStack with Redis replicas and Sentinels (master name
// "kurz"), a Postgres streaming replica and a second Traefik.
func NewHAStack(tb testing.TB, env map[string]string, configure ...func(*stack.Config)) *stack.Stack {
	tb.Helper()
	s, err := startStack(tb, env, append([]func(*stack.Config){func(cfg *stack.Config) {
		cfg.HA = &stack.HAConfig{
			RedisReplicaPorts:   []int{FreePort(tb), FreePort(tb)},
			SentinelPorts:       []int{FreePort(tb), FreePort(tb), FreePort(tb)},
			MasterName:          "kurz",
			PostgresReplicaPort: FreePort(tb),
			HTTPPort2:           FreePort(tb),
			APIPort2:            FreePort(tb),
		}
	}}, configure...)...)
	Need(tb, "the kurz stack (redis-server, postgresql, bin/traefik from make traefik)", err)
	tb.Cleanup(s.Stop)
	return s
}

// startStack builds the backend and starts a stack on free ports, once more
// on other ports if that fails: a port free a moment ago may have been taken
// by a test of another package running meanwhile.
func startStack(tb testing.TB, env map[string]string, configure ...func(*stack.Config)) (*stack.Stack, error) {
	root := Root()
	traefik, err := stack.LookPath("KURZ_TRAEFIK_BIN", "", filepath.Join(root, "bin", "traefik"))
	if err != nil {
		return nil, fmt.Errorf("%w: run make traefik", err)
	}
	if _, err := os.Stat(traefik); err != nil {
		return nil, fmt.Errorf("%w: run make traefik", err)
	}
	backend := filepath.Join(TempDir(tb, "backend"), "kurz")
	build := exec.Command("go", "build", "-o", backend, "./backend/cmd/kurz")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the backend: %v\n%s", err, out)
	}
	for attempt := 1; ; attempt++ {
		cfg := stack.Config{
			Root: root, StateDir: TempDir(tb, "stack"), TraefikBin: traefik, BackendBin: backend,
			HTTPPort: FreePort(tb), APIPort: FreePort(tb), RedisPort: FreePort(tb), PostgresPort: FreePort(tb),
			Env: env, Metrics: env["KURZ_TRAEFIK_METRICS"],
			ExtraDomains: []string{"localhost"}, // as make run: every end-to-end test runs with two domains
		}
		for i := 0; i < 3; i++ {
			cfg.BackendPorts = append(cfg.BackendPorts, FreePort(tb))
			cfg.MetricsPorts = append(cfg.MetricsPorts, FreePort(tb))
		}
		for _, f := range configure {
			f(&cfg)
		}
		s, err := stack.Start(cfg)
		if err == nil || attempt == 2 {
			return s, err
		}
		tb.Logf("starting the stack failed, once more on other ports: %v", err)
	}
}

// MustNetwork is a private network of the test's own (netsplit), removed
// when the test ends; place a stack on it with OnNetwork.
func MustNetwork(tb testing.TB) *netsplit.Network {
	tb.Helper()
	Need(tb, "network namespaces (root, iproute2, iptables, util-linux)", netsplit.Available())
	n, err := netsplit.New()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Logf("removing the test's network: %v", err)
		}
	})
	return n
}

// OnNetwork runs every part of a stack on a host of its own on n.
func OnNetwork(n *netsplit.Network) func(*stack.Config) {
	return func(cfg *stack.Config) {
		cfg.Network = n
		// Each Traefik has an address of its own there, and clients name it
		// by that address: the hosts of one domain, not domains of their own.
		cfg.ExtraDomains = nil
	}
}

// MustRoleKey creates an API key of role with the backend's command line,
// run where the first backend runs (its host on a test network).
func MustRoleKey(tb testing.TB, s *stack.Stack, role string) string {
	tb.Helper()
	b := s.Backends[0]
	args := []string{"keys", "create", "--name", role + "-" + strconv.FormatInt(time.Now().UnixNano(), 36), "--role", role}
	cmd := exec.Command(b.Bin, args...)
	if len(b.Prefix) > 0 {
		cmd = exec.Command(b.Prefix[0], append(append(append([]string(nil), b.Prefix[1:]...), b.Bin), args...)...)
	}
	cmd.Env = append(cmd.Environ(), "DATABASE_URL="+s.Postgres.URL("kurz"))
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("kurz keys create: %v", err)
	}
	key, _, _ := strings.Cut(string(out), "\n")
	return key
}
