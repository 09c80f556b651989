// Package floormap is make bench's floor for the edge's hot path, not
// shipped: the least an interpreted plugin can do to redirect — a map
// lookup and a 301 — so that the edge's hot cache is measured against it in
// the same Traefik. Its map is a file of "code URL" lines, read by New.
package floormap

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Config names the map file.
type Config struct {
	MapFile string `json:"mapFile,omitempty"`
}

// CreateConfig is Traefik's hook for the default configuration.
func CreateConfig() *Config { return &Config{} }

// Floor answers codes of the map with a 301.
type Floor struct {
	next    http.Handler
	targets map[string][]string
}

// New reads the map.
func New(_ context.Context, next http.Handler, cfg *Config, _ string) (http.Handler, error) {
	f, err := os.Open(cfg.MapFile)
	if err != nil {
		return nil, fmt.Errorf("floormap: mapFile: %v", err)
	}
	defer f.Close()
	targets := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		code, url, ok := strings.Cut(sc.Text(), " ")
		if ok {
			targets["/"+code] = []string{url}
		}
	}
	return &Floor{next: next, targets: targets}, sc.Err()
}

func (f *Floor) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	if location, ok := f.targets[req.URL.Path]; ok {
		rw.Header()["Location"] = location
		rw.WriteHeader(http.StatusMovedPermanently)
		return
	}
	f.next.ServeHTTP(rw, req)
}
