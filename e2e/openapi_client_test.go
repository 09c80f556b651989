package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
)

// oapiCodegen is the independent generator the document is checked with, pinned.
const oapiCodegen = "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2"

// A client generated from the OpenAPI document by another project's generator
// compiles and talks to the real stack: create with options, clear a limit
// from a typed PATCH, read, a 404, delete.
func TestGeneratedClientTalksToTheStack(t *testing.T) {
	s := MustStack(t)
	key := MustRoleKey(t, s, "admin")
	dir := t.TempDir()
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			testenv.Need(t, "the Go module proxy, for "+oapiCodegen, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out))
		}
		return string(out)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module generatedclient\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	program, err := os.ReadFile(filepath.Join(testenv.Root(), "e2e", "testdata", "openapiclient", "main.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), program, 0o644); err != nil {
		t.Fatal(err)
	}
	run("go", "run", oapiCodegen, "-generate", "types,client", "-package", "main", "-o", "client.gen.go",
		filepath.Join(testenv.Root(), "backend", "http", "openapi.json"))
	run("go", "mod", "tidy")
	alias := fmt.Sprintf("gen-%d", time.Now().UnixNano()%1_000_000_000)
	if out := run("go", "run", ".", s.Traefik.URL(), key, alias); strings.TrimSpace(out) != "ok" {
		t.Errorf("the generated client: %s", out)
	}
}
