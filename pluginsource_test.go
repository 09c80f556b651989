package kurz_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kurzlink/kurz"
)

// The written source is the repository's, file for file, tests left out.
func TestWritePluginSource(t *testing.T) {
	dir := t.TempDir()
	if err := kurz.WritePluginSource(dir); err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Glob("plugin/*.go")
	links, _ := filepath.Glob("link/*.go")
	want = append(append(want, links...), ".traefik.yml")
	n := 0
	for _, name := range want {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		n++
		got, err := os.ReadFile(filepath.Join(dir, name))
		orig, _ := os.ReadFile(name)
		if err != nil || string(got) != string(orig) {
			t.Errorf("%s: %v, or not the repository's", name, err)
		}
	}
	var written int
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, _ error) error {
		if !d.IsDir() {
			written++
		}
		return nil
	})
	if written != n {
		t.Errorf("%d files written, want %d", written, n)
	}
}
