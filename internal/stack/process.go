// Package stack starts kurz's parts as local processes — Redis, PostgreSQL,
// backend replicas and Traefik with the edge plugin — for `make run`, the
// end-to-end tests and the benchmarks. No Docker engine needed.
package stack

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FreePort returns a loopback TCP port that was free a moment ago.
// It is drawn below the kernel's ephemeral range: a port from that range
// may be taken, before the server binds it, as the source port of any
// outgoing connection on the machine (seen under a busy test run).
func FreePort() (int, error) {
	low := ephemeralLow()
	for attempt := 0; attempt < 50 && low > 10001; attempt++ {
		port := 10000 + rand.IntN(low-10000)
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			ln.Close()
			return port, nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768 if unknown).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return low
}

// WaitTCP waits until addr accepts connections.
func WaitTCP(addr string, timeout time.Duration) error { return waitTCP(nil, addr, timeout) }

// waitTCP is WaitTCP connecting with dial (net.Dialer when nil).
func waitTCP(dial DialFunc, addr string, timeout time.Duration) error {
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		c, err := dial(ctx, "tcp", addr)
		cancel()
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

// ProcessOptions are the less common settings of StartProcess.
type ProcessOptions struct {
	Dir  string              // working directory
	Env  []string            // added to the environment
	Cred *syscall.Credential // run as this user (PostgreSQL refuses root)
	// Prefix is a command that runs the program elsewhere (another network
	// namespace: Place.Prefix); it must exec the program, not fork it.
	Prefix []string
}

// StartProcess runs name with args, output appended to logFile; it dies with its parent.
func StartProcess(name string, args []string, logFile string, o ProcessOptions) (*Process, error) {
	if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
		return nil, err
	}
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if len(o.Prefix) > 0 {
		prefix := o.Prefix
		if o.Cred != nil { // the prefix needs root; the program drops to the user after it
			prefix = append(append([]string(nil), prefix...), "setpriv",
				"--reuid="+strconv.Itoa(int(o.Cred.Uid)), "--regid="+strconv.Itoa(int(o.Cred.Gid)), "--clear-groups")
			o.Cred = nil
		}
		args = append(append(append([]string(nil), prefix[1:]...), name), args...)
		name = prefix[0]
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true, Credential: o.Cred}
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
	if p == nil || p.Exited() {
		return
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill ends the process at once, as a crash would.
func (p *Process) Kill() {
	if p == nil || p.Exited() {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// SignalGroup sends sig to the process and its children (SIGSTOP stalls them
// all, SIGCONT resumes them).
func (p *Process) SignalGroup(sig syscall.Signal) error {
	return syscall.Kill(-p.cmd.Process.Pid, sig)
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

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Tail returns the end of the process log, for error messages.
func (p *Process) Tail() string {
	b, _ := os.ReadFile(p.Log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// LookPath finds a server binary: $env, then PATH, then the glob patterns.
func LookPath(env, name string, globs ...string) (string, error) {
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	if name != "" {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	for _, g := range globs {
		if m, _ := filepath.Glob(g); len(m) > 0 {
			return m[len(m)-1], nil
		}
	}
	return "", fmt.Errorf("%s not found (install it, or set %s)", name, env)
}
