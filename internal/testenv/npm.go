package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// NodeScript runs a Node.js test script of testdata beside the real clients
// of other shorteners (installed once by scripts/npm-test-clients.sh), with
// env added, and returns its output; a failing script fails tb.
func NodeScript(tb testing.TB, script string, env ...string) string {
	tb.Helper()
	dir := NodeClients(tb)
	src, err := os.ReadFile(script)
	if err != nil {
		tb.Fatal(err)
	}
	// Beside node_modules, so that its imports resolve there.
	run := filepath.Join(dir, strings.TrimSuffix(filepath.Base(script), filepath.Ext(script))+"-"+filepath.Base(tb.TempDir())+".mjs")
	if err := os.WriteFile(run, src, 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.Remove(run) })
	cmd := exec.Command("node", run)
	cmd.Env = append(os.Environ(), env...)
	got, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("node %s: %v\n%s", filepath.Base(script), err, got)
	}
	return string(got)
}

// NodeClients is the folder scripts/npm-test-clients.sh installs the clients
// into (node_modules, and dist/ with the web component bundled for browsers).
func NodeClients(tb testing.TB) string {
	tb.Helper()
	_, err := exec.LookPath("node")
	Need(tb, "Node.js (apt-get install nodejs npm)", err)
	out, err := exec.Command(filepath.Join(Root(), "scripts", "npm-test-clients.sh")).Output()
	if ee, ok := err.(*exec.ExitError); ok {
		err = &scriptError{err, string(ee.Stderr)}
	}
	Need(tb, "the clients from npm (scripts/npm-test-clients.sh)", err)
	return strings.TrimSpace(string(out))
}
