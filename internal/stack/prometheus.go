package stack

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Prometheus is Debian's Prometheus on a loopback port, scraping every
// backend's metrics (and Traefik's, when they are on) every second, with the
// rules deploy/prometheus ships.
type Prometheus struct {
	Port    int
	Dir     string
	Rules   string   // a rule file; empty: none
	Targets []string // host:port of each backend's metrics
	Traefik []string // host:port of each Traefik API serving /metrics
	proc    *Process
}

// URL is the address of its HTTP API.
func (p *Prometheus) URL() string { return "http://127.0.0.1:" + strconv.Itoa(p.Port) }

// Start writes the configuration, starts the server and waits until it is ready.
func (p *Prometheus) Start() error {
	bin, err := LookPath("PROMETHEUS", "prometheus", "/usr/bin/prometheus")
	if err != nil {
		return fmt.Errorf("%w (apt-get install prometheus)", err)
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n")
	if p.Rules != "" {
		fmt.Fprintf(&b, "rule_files: [%q]\n", p.Rules)
	}
	b.WriteString("scrape_configs:\n")
	for _, job := range []struct {
		name    string
		targets []string
	}{{"kurz-backend", p.Targets}, {"traefik", p.Traefik}} {
		if len(job.targets) == 0 {
			continue
		}
		fmt.Fprintf(&b, "  - job_name: %s\n    static_configs:\n      - targets: [%s]\n", job.name, quoteAll(job.targets))
	}
	config := filepath.Join(p.Dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(b.String()), 0o644); err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(p.Port)
	proc, err := StartProcess(bin, []string{"--config.file=" + config, "--storage.tsdb.path=" + filepath.Join(p.Dir, "data"),
		"--web.listen-address=" + addr, "--storage.tsdb.retention.time=1d"}, filepath.Join(p.Dir, "prometheus.log"), ProcessOptions{})
	if err != nil {
		return err
	}
	p.proc = proc
	deadline := time.Now().Add(30 * time.Second)
	for { // ready: its storage open and its rules loaded
		res, err := http.Get(p.URL() + "/-/ready")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || proc.Exited() {
			return fmt.Errorf("prometheus on %s not ready: %v\n%s", addr, err, proc.Tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop stops the server.
func (p *Prometheus) Stop() { p.proc.Stop(syscall.SIGTERM) }

func quoteAll(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
