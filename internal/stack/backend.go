package stack

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Backend is one backend replica.
type Backend struct {
	Place
	Bin         string
	Port        int
	MetricsPort int
	Env         []string // DATABASE_URL, REDIS_URL, KURZ_* settings
	LogFile     string
	proc        *Process
}

// URL is the replica's base URL.
func (b *Backend) URL() string { return "http://" + b.host() + ":" + strconv.Itoa(b.Port) }

// Start starts the replica and waits until /health answers 200.
func (b *Backend) Start() error {
	env := append([]string{
		"KURZ_LISTEN_ADDR=" + b.host() + ":" + strconv.Itoa(b.Port),
		"KURZ_METRICS_ADDR=" + b.host() + ":" + strconv.Itoa(b.MetricsPort),
	}, b.Env...)
	p, err := StartProcess(b.Bin, nil, b.LogFile, ProcessOptions{Env: env, Prefix: b.Prefix})
	if err != nil {
		return err
	}
	b.proc = p
	if err := waitHTTP(b.httpClient(time.Second), b.URL()+"/health", 60*time.Second, p); err != nil {
		return fmt.Errorf("backend on port %d: %w\n%s", b.Port, err, p.Tail())
	}
	return nil
}

// Stop stops the replica gracefully (SIGTERM: it flushes its counts).
func (b *Backend) Stop() { b.proc.Stop(syscall.SIGTERM) }

// Kill ends the replica at once, as a crash would.
func (b *Backend) Kill() { b.proc.Kill() }

// Pid is the replica's process id.
func (b *Backend) Pid() int { return b.proc.Pid() }

// WaitHTTP waits until url answers 200, or p exits.
func WaitHTTP(url string, timeout time.Duration, p *Process) error {
	return waitHTTP(&http.Client{Timeout: time.Second}, url, timeout, p)
}

func waitHTTP(client *http.Client, url string, timeout time.Duration, p *Process) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if p != nil && p.Exited() {
			return fmt.Errorf("process exited")
		}
		res, err := client.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			last = res.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s: %s", url, timeout, last)
}

func logPath(dir, name string) string { return filepath.Join(dir, "logs", name+".log") }
