package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what traefik/bench/wrk.lua prints.
type wrkResult struct {
	Requests      int64 `json:"requests"`
	DurationUS    int64 `json:"duration_us"`
	ConnectErrors int64 `json:"connect_errors"`
	ReadErrors    int64 `json:"read_errors"`
	WriteErrors   int64 `json:"write_errors"`
	StatusErrors  int64 `json:"status_errors"`
	Timeouts      int64 `json:"timeouts"`
	P50US         int64 `json:"p50_us"`
	P99US         int64 `json:"p99_us"`
}

func (w wrkResult) rps() float64 { return float64(w.Requests) / (float64(w.DurationUS) / 1e6) }

func (w wrkResult) socketErrors() int64 {
	return w.ConnectErrors + w.ReadErrors + w.WriteErrors + w.Timeouts
}

// load is one wrk workload: host may be empty; arg is a path file or "create".
type load struct{ url, host, arg string }

// rounds of an interleaved comparison.
const rounds = 3

// wrk runs one load for d.
func (b *bench) wrk(ctx context.Context, l load, d time.Duration) (wrkResult, error) {
	url, host, arg := l.url, l.host, l.arg
	script := filepath.Join(b.root, "traefik", "bench", "wrk.lua")
	args := []string{"-t", strconv.Itoa(b.threads), "-c", strconv.Itoa(b.connections),
		"-d", fmt.Sprintf("%ds", max(1, int(d.Seconds()))), "--timeout", "5s", "-s", script}
	if host != "" {
		args = append(args, "-H", "Host: "+host)
	}
	args = append(args, url)
	if arg != "" {
		args = append(args, "--", arg)
	}
	out, err := exec.CommandContext(ctx, "wrk", args...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %v: %v\n%s", args, err, out)
	}
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var r wrkResult
	if err := json.Unmarshal(lines[len(lines)-1], &r); err != nil {
		return r, fmt.Errorf("wrk output: %v\n%s", err, out)
	}
	return r, nil
}

// load warms up, then measures.
func (b *bench) load(ctx context.Context, l load) (wrkResult, error) {
	if _, err := b.wrk(ctx, l, b.warmup); err != nil {
		return wrkResult{}, err
	}
	return b.wrk(ctx, l, b.duration)
}

// interleaved warms both loads up, then runs them alternately for a few
// rounds and returns each one's median round: the machine's drift hits both.
func (b *bench) interleaved(ctx context.Context, x, y load) ([2]wrkResult, error) {
	var out [2]wrkResult
	runs := [2][]wrkResult{}
	for _, l := range []load{x, y} {
		if _, err := b.wrk(ctx, l, b.warmup); err != nil {
			return out, err
		}
	}
	for r := 0; r < rounds; r++ {
		for i, l := range []load{x, y} {
			res, err := b.wrk(ctx, l, b.duration/2)
			if err != nil {
				return out, err
			}
			runs[i] = append(runs[i], res)
		}
	}
	for i := range runs {
		sort.Slice(runs[i], func(a, c int) bool { return runs[i][a].rps() < runs[i][c].rps() })
		out[i] = runs[i][len(runs[i])/2]
	}
	return out, nil
}

// writePaths writes request paths to a file for wrk.lua and returns its name.
func (b *bench) writePaths(name string, paths []string) (string, error) {
	file := filepath.Join(b.state, name+".paths")
	return file, os.WriteFile(file, []byte(strings.Join(paths, "\n")+"\n"), 0o644)
}

// uniformPaths is every seeded code once, shuffled.
func (b *bench) uniformPaths() []string {
	r := rand.New(rand.NewPCG(1, 1))
	paths := make([]string, len(b.codes))
	for i, c := range b.codes {
		paths[i] = "/" + c
	}
	r.Shuffle(len(paths), func(i, j int) { paths[i], paths[j] = paths[j], paths[i] })
	return paths
}

// stormPaths is n random code-shaped paths: a scan for codes, almost all unknown.
func (b *bench) stormPaths(n int) []string {
	r := rand.New(rand.NewPCG(3, 3))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	paths := make([]string, n)
	for i := range paths {
		code := make([]byte, 7)
		for j := range code {
			code[j] = alphabet[r.IntN(len(alphabet))]
		}
		paths[i] = "/" + string(code)
	}
	return paths
}

// zipfPaths draws n requests Zipf-distributed (s = 1.1) over the seeded codes,
// unknownPercent of them for codes that do not exist.
func (b *bench) zipfPaths(n, unknownPercent int) []string {
	r := rand.New(rand.NewPCG(2, 2))
	z := rand.NewZipf(r, 1.1, 1, uint64(len(b.codes)-1))
	paths := make([]string, n)
	for i := range paths {
		if r.IntN(100) < unknownPercent {
			paths[i] = fmt.Sprintf("/zz%05d", r.IntN(100000)) // a code shape no seeded code has… almost surely
			continue
		}
		paths[i] = "/" + b.codes[z.Uint64()]
	}
	return paths
}

var pgbenchTPS = regexp.MustCompile(`tps = ([0-9.]+)`)
var pgbenchLatency = regexp.MustCompile(`latency average = ([0-9.]+) ms`)

// pgbench runs the backend's INSERT … ON CONFLICT with as many connections as the backends' pools.
func (b *bench) pgbench(ctx context.Context, clients int) (tps, latencyMS float64, err error) {
	script := filepath.Join(b.root, "traefik", "bench", "create.pgbench.sql")
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
		if len(m) == 0 {
			return 0, 0, err
		}
		bin = m[len(m)-1]
	}
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(b.threads),
		"-T", strconv.Itoa(int(b.duration.Seconds())), "-f", script, b.stack.Postgres.URL("kurz")}
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("pgbench: %v\n%s", err, out)
	}
	m := pgbenchTPS.FindSubmatch(out)
	l := pgbenchLatency.FindSubmatch(out)
	if m == nil || l == nil {
		return 0, 0, fmt.Errorf("pgbench output:\n%s", out)
	}
	tps, _ = strconv.ParseFloat(string(m[1]), 64)
	latencyMS, _ = strconv.ParseFloat(string(l[1]), 64)
	return tps, latencyMS, nil
}
