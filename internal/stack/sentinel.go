package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Sentinel is a Redis Sentinel on a loopback port watching Master as MasterName.
type Sentinel struct {
	Place
	Port       int
	Dir        string
	Master     *Redis
	MasterName string
	Quorum     int
	proc       *Process
}

// Addr is host:port of the Sentinel.
func (s *Sentinel) Addr() string { return s.host() + ":" + strconv.Itoa(s.Port) }

// Start writes the configuration once (Sentinel rewrites it as it learns the
// topology, and a restart must keep that) and starts the Sentinel.
func (s *Sentinel) Start() error {
	bin, err := LookPath("REDIS_SERVER", "redis-server", "/usr/bin/redis-server")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	conf := filepath.Join(s.Dir, "sentinel.conf")
	if _, err := os.Stat(conf); err != nil {
		text := fmt.Sprintf("port %d\nbind %s\nprotected-mode no\ndir %s\nsentinel monitor %s %s %d %d\n"+
			"sentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 10000\nsentinel parallel-syncs %s 1\n",
			s.Port, s.host(), s.Dir, s.MasterName, s.Master.host(), s.Master.Port, s.Quorum, s.MasterName, s.MasterName, s.MasterName)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return err
		}
	}
	p, err := StartProcess(bin, []string{conf, "--sentinel"}, filepath.Join(s.Dir, "sentinel.log"), ProcessOptions{Prefix: s.Prefix})
	if err != nil {
		return err
	}
	s.proc = p
	if err := waitTCP(s.Dial, s.Addr(), 10*time.Second); err != nil {
		return fmt.Errorf("%w\n%s", err, p.Tail())
	}
	return nil
}

// Stop stops the Sentinel.
func (s *Sentinel) Stop() { s.proc.Stop(syscall.SIGTERM) }
