package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/internal/testenv"
)

// importCommand is kurz import run as the stack's backends are, with their settings.
func importCommand(s *stack.Stack, args ...string) *exec.Cmd {
	b := s.Backends[0]
	args = append([]string{"import"}, args...)
	cmd := exec.Command(b.Bin, args...)
	if len(b.Prefix) > 0 {
		cmd = exec.Command(b.Prefix[0], append(append(append([]string(nil), b.Prefix[1:]...), b.Bin), args...)...)
	}
	cmd.Env = append(os.Environ(), b.Env...)
	return cmd
}

var importedCounts = regexp.MustCompile(`read (\d+), imported (\d+) \((\d+) with a new code\), already there (\d+), skipped (\d+)`)

// A 100,000-link export, imported by the real binary, SIGKILLed halfway and
// run again through a stalled Postgres: every link once, counts exact, and
// each one answered at the edge.
func TestImportKilledAndResumed(t *testing.T) {
	s := testenv.NewStack(t, map[string]string{"KURZ_HIT_FLUSH_INTERVAL": "200ms"})
	const n = 100_000
	var csv strings.Builder
	csv.WriteString("Long URL,Short code,Title,Tags,Visits\n")
	var wantVisits int64
	for i := range n {
		code := fmt.Sprintf("i%06d", i) // 7 characters: the edge must know them as aliases
		switch {
		case i%10 == 9:
			code = "" // a new code is made
		case i%2 == 1:
			code = "imported-" + strconv.Itoa(i) // another length: the backends answer them
		}
		fmt.Fprintf(&csv, "https://example.com/imported/%d,%s,Link %d,batch-%d,%d\n", i, code, i, i%5, i%7)
		wantVisits += int64(i % 7)
	}
	file := filepath.Join(t.TempDir(), "export.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	first := importCommand(s, "csv", file)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Minute, func() error { // a busy machine imports slower: the kill only has to come after a commit
		if got := queryInt(t, s, `SELECT count(*) FROM url_mappings WHERE import_source = 'csv'`); got == 0 {
			return fmt.Errorf("nothing imported yet")
		}
		return nil
	})
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	before := queryInt(t, s, `SELECT count(*) FROM url_mappings WHERE import_source = 'csv'`)
	if before >= n {
		t.Fatalf("the import finished before it was killed (%d links): nothing to resume", before)
	}

	started := time.Now()
	var output bytes.Buffer
	resume := importCommand(s, "csv", file)
	resume.Stdout, resume.Stderr = &output, &output
	if err := resume.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the resumed import meets a stalled Postgres
	if err := s.Postgres.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := s.Postgres.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	err := resume.Wait()
	took := time.Since(started)
	out := output.Bytes()
	if err != nil {
		t.Fatalf("kurz import: %v\n%s", err, out)
	}
	m := importedCounts.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no summary:\n%s", out)
	}
	if got, want := m[1]+" "+m[2]+" "+m[4]+" "+m[5], fmt.Sprintf("%d %d %d 0", n, n-before, before); got != want {
		t.Errorf("read, imported, already there, skipped = %s, want %s\n%s", got, want, out)
	}
	t.Logf("after a SIGKILL at %d links, the rest imported in %s, through a 2 s SIGSTOP of Postgres:\n%s", before, took.Round(time.Millisecond), out)
	if got := queryInt(t, s, `SELECT count(*) FROM url_mappings WHERE import_source = 'csv'`); got != n {
		t.Errorf("%d links imported, want %d", got, n)
	}
	if got := queryInt(t, s, `SELECT coalesce(sum(access_count), 0) FROM url_mappings WHERE import_source = 'csv'`); got != wantVisits {
		t.Errorf("visits carried over = %d, want %d", got, wantVisits)
	}

	for _, i := range []int{0, 2, 4242, 50_000, 99_998} { // 7-character aliases, at the edge
		mustRedirectAtEdge(t, s, fmt.Sprintf("i%06d", i), fmt.Sprintf("https://example.com/imported/%d", i))
	}
	for _, i := range []int{1, 77_777} { // other lengths, at the backends
		mustRedirectAtEdge(t, s, "imported-"+strconv.Itoa(i), fmt.Sprintf("https://example.com/imported/%d", i))
	}
	if res := do(t, "GET", s.Traefik.URL()+"/i999999", "", ""); res.Status != 404 {
		t.Errorf("a code no export had = %d, want 404", res.Status)
	}

	again, err := importCommand(s, "csv", file).CombinedOutput()
	if err != nil || !strings.Contains(string(again), fmt.Sprintf("read %d, imported 0 (0 with a new code), already there %d, skipped 0", n, n)) {
		t.Errorf("a third run: %v\n%s", err, again)
	}
}

func mustRedirectAtEdge(tb testing.TB, s *stack.Stack, code, target string) {
	tb.Helper()
	res := do(tb, "GET", s.Traefik.URL()+"/"+code, "", "")
	if res.Status != 301 || res.Header.Get("Location") != target {
		tb.Errorf("GET /%s = %d %s, want 301 %s", code, res.Status, res.Header.Get("Location"), target)
	}
}
