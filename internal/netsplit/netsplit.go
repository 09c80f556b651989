// Package netsplit gives tests a private network of their own: every host
// is a network namespace joined by a veth pair to a bridge in a namespace of
// its own, so nothing the test does touches this machine's network, and the
// link between any two hosts can be cut, healed, made lossy or slow.
//
// The test process itself stays where it is; it reaches the hosts from a
// probe host of the network (DialContext), as a client on that network would.
package netsplit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Network is one private network: a hub namespace with a bridge and a host
// namespace per name, each with an address in 10.99.0.0/24.
type Network struct {
	id    string // makes namespace and link names unique on this machine
	hub   string
	probe *Host

	mu    sync.Mutex
	hosts map[string]*Host
	rules map[rule]bool
}

// Host is one network namespace with one address on the network.
type Host struct {
	Name string
	IP   string
	ns   string
}

type rule struct {
	host, peer string // rule lives in host's namespace, matches peer's address
	kind       string // "cut" or "loss:<probability>"
}

// Available says why the harness cannot run here (not root, no ip or
// iptables), or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root")
	}
	for _, bin := range []string{"ip", "iptables", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found (Debian: iproute2, iptables, util-linux)", bin)
		}
	}
	return nil
}

// New makes the hub and the probe host; Close removes everything it made.
func New() (*Network, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	id := make([]byte, 3)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	n := &Network{id: hex.EncodeToString(id), hosts: map[string]*Host{}, rules: map[rule]bool{}}
	n.hub = "kz" + n.id + "-hub"
	if err := run("ip", "netns", "add", n.hub); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"ip", "-n", n.hub, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", n.hub, "link", "set", "br0", "up"},
		{"ip", "-n", n.hub, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			n.Close()
			return nil, err
		}
	}
	probe, err := n.Host("probe")
	if err != nil {
		n.Close()
		return nil, err
	}
	n.probe = probe
	return n, nil
}

// Host returns the host called name, making it on first use.
func (n *Network) Host(name string) (*Host, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if h, ok := n.hosts[name]; ok {
		return h, nil
	}
	index := len(n.hosts) + 1
	if index > 250 {
		return nil, errors.New("netsplit: at most 250 hosts")
	}
	h := &Host{Name: name, IP: "10.99.0." + strconv.Itoa(index), ns: "kz" + n.id + "-" + strconv.Itoa(index)}
	outer := "kz" + n.id + "v" + strconv.Itoa(index) // at most 15 bytes, as links must be
	steps := [][]string{
		{"ip", "netns", "add", h.ns},
		{"ip", "-n", n.hub, "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", h.ns},
		{"ip", "-n", n.hub, "link", "set", outer, "master", "br0", "up"},
		{"ip", "-n", h.ns, "link", "set", "lo", "up"},
		{"ip", "-n", h.ns, "addr", "add", h.IP + "/24", "dev", "eth0"},
		{"ip", "-n", h.ns, "link", "set", "eth0", "up"},
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			run("ip", "netns", "del", h.ns)
			return nil, fmt.Errorf("host %s: %w", name, err)
		}
	}
	n.hosts[name] = h
	return h, nil
}

// Close removes the hosts and the hub (their links go with them).
func (n *Network) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for _, h := range n.hosts {
		errs = append(errs, run("ip", "netns", "del", h.ns))
	}
	n.hosts = map[string]*Host{}
	errs = append(errs, run("ip", "netns", "del", n.hub))
	return errors.Join(errs...)
}

// Place puts a part of a stack on the host of that name (stack.Network).
func (n *Network) Place(part string) (ip string, prefix []string, err error) {
	h, err := n.Host(part)
	if err != nil {
		return "", nil, err
	}
	return h.IP, h.Prefix(), nil
}

// DialContext connects from the probe host, as a client on this network.
func (n *Network) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return n.probe.DialContext(ctx, network, address)
}

// Cut drops every packet between a and b, both ways, as a split network
// does: connections stall rather than fail, until Heal or their timeouts.
func (n *Network) Cut(a, b *Host) error { return n.add(rule{a.Name, b.Name, "cut"}) }

// Heal removes the cut between a and b.
func (n *Network) Heal(a, b *Host) error { return n.remove(rule{a.Name, b.Name, "cut"}) }

// Loss drops the given share (0–1) of the packets between a and b, each way.
func (n *Network) Loss(a, b *Host, share float64) error {
	return n.add(rule{a.Name, b.Name, "loss:" + strconv.FormatFloat(share, 'f', 4, 64)})
}

// Clear removes every cut and loss rule.
func (n *Network) Clear() error {
	n.mu.Lock()
	var rules []rule
	for r := range n.rules {
		rules = append(rules, r)
	}
	n.mu.Unlock()
	var errs []error
	for _, r := range rules {
		errs = append(errs, n.remove(r))
	}
	return errors.Join(errs...)
}

func (n *Network) add(r rule) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.rules[r] {
		return nil
	}
	if err := n.iptables("-A", r); err != nil {
		return err
	}
	n.rules[r] = true
	return nil
}

func (n *Network) remove(r rule) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.rules[r] {
		return nil
	}
	if err := n.iptables("-D", r); err != nil {
		return err
	}
	delete(n.rules, r)
	return nil
}

// iptables adds or deletes r's pair of rules (incoming from the peer,
// outgoing to it) in r.host's namespace; called with n.mu held.
func (n *Network) iptables(op string, r rule) error {
	host, peer := n.hosts[r.host], n.hosts[r.peer]
	if host == nil || peer == nil {
		return fmt.Errorf("netsplit: unknown host in %v", r)
	}
	match := []string{"-j", "DROP"}
	if p, ok := strings.CutPrefix(r.kind, "loss:"); ok {
		match = []string{"-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP"}
	}
	for _, dir := range [][]string{{"INPUT", "-s"}, {"OUTPUT", "-d"}} {
		args := append([]string{"--net=/run/netns/" + host.ns, "iptables", "-w", op, dir[0], dir[1], peer.IP}, match...)
		if err := run("nsenter", args...); err != nil {
			return err
		}
	}
	return nil
}

// Prefix is the command prefix that runs a program on h.
func (h *Host) Prefix() []string { return []string{"nsenter", "--net=/run/netns/" + h.ns, "--"} }

// DialContext connects from h: the socket is made in h's namespace.
func (h *Host) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var conn net.Conn
	err := h.inside(func() error {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, address)
		conn = c
		return err
	})
	return conn, err
}

// Listen listens on h (a proxy the test runs on that host, say).
func (h *Host) Listen(network, address string) (net.Listener, error) {
	var ln net.Listener
	err := h.inside(func() error {
		l, err := net.Listen(network, address)
		ln = l
		return err
	})
	return ln, err
}

// inside runs f on a thread that entered h's namespace and leaves it
// again before the thread is handed back to Go's scheduler. The thread must
// not exit instead: a process this one started with Pdeathsig (the stack's
// servers) is killed when the thread that forked it ends.
func (h *Host) inside(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := syscall.Open("/proc/thread-self/ns/net", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer syscall.Close(home)
		fd, err := syscall.Open("/run/netns/"+h.ns, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer syscall.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("setns %s: %w", h.ns, err)
			return
		}
		err = f()
		if unix.Setns(home, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread() // back home: the thread may run other goroutines
		} // else the thread stays locked and ends with this goroutine
		done <- err
	}()
	return <-done
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
