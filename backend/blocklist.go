package backend

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Blocklist is a set of domains no link may point to, a domain blocking its
// subdomains too, read from a file (one domain a line, or hosts format:
// "0.0.0.0 evil.example"; # comments) and read again when it changes.
type Blocklist struct {
	path   string
	logger *slog.Logger

	mu       sync.RWMutex
	domains  map[string]bool
	modified time.Time
	size     int64
}

// NewBlocklist reads the file at path; an empty path blocks nothing.
func NewBlocklist(path string, logger *slog.Logger) (*Blocklist, error) {
	b := &Blocklist{path: path, logger: logger, domains: map[string]bool{}}
	if path == "" {
		return b, nil
	}
	if _, err := b.reload(); err != nil {
		return nil, err
	}
	return b, nil
}

// ParseBlocklist reads domains from a blocklist file's text.
func ParseBlocklist(text []byte) map[string]bool {
	domains := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) >= 2 && (fields[0] == "0.0.0.0" || fields[0] == "127.0.0.1" || fields[0] == "::" || fields[0] == "::1") {
			fields = fields[1:] // hosts format
		}
		for _, f := range fields {
			if host, err := normalizeHost(strings.TrimSuffix(f, ".")); err == nil && host != "localhost" {
				domains[host] = true
			}
		}
	}
	return domains
}

// Blocks reports whether host, or a domain it belongs to, is listed.
func (b *Blocklist) Blocks(host string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if len(b.domains) == 0 {
		return false
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for {
		if b.domains[host] {
			return true
		}
		i := strings.IndexByte(host, '.')
		if i < 0 {
			return false
		}
		host = host[i+1:]
	}
}

// BlocksURL reports whether a (normalized) target URL's host is blocked.
func (b *Blocklist) BlocksURL(target string) bool {
	u, err := url.Parse(target)
	return err == nil && b.Blocks(u.Hostname())
}

// Domains returns the listed domains.
func (b *Blocklist) Domains() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]string, 0, len(b.domains))
	for d := range b.domains {
		out = append(out, d)
	}
	return out
}

// Watch reads the file again whenever it changes, until ctx ends, and calls
// changed with the domains newly listed.
func (b *Blocklist) Watch(ctx context.Context, interval time.Duration, changed func(added []string)) {
	if b.path == "" {
		return
	}
	every(ctx, interval, func() {
		added, err := b.reload()
		if err != nil {
			b.logger.Warn("blocklist not read again; the last one stays", "path", b.path, "err", err)
			return
		}
		if len(added) > 0 {
			changed(added)
		}
	})
}

// reload reads the file if it changed and returns the domains it adds.
func (b *Blocklist) reload() ([]string, error) {
	info, err := os.Stat(b.path)
	if err != nil {
		return nil, err
	}
	b.mu.RLock()
	same := info.ModTime().Equal(b.modified) && info.Size() == b.size
	b.mu.RUnlock()
	if same {
		return nil, nil
	}
	text, err := os.ReadFile(b.path)
	if err != nil {
		return nil, err
	}
	domains := ParseBlocklist(text)
	b.mu.Lock()
	var added []string
	for d := range domains {
		if !b.domains[d] {
			added = append(added, d)
		}
	}
	b.domains, b.modified, b.size = domains, info.ModTime(), info.Size()
	b.mu.Unlock()
	b.logger.Info("blocklist read", "path", b.path, "domains", len(domains), "added", len(added))
	return added, nil
}
