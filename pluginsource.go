// Package kurz carries the edge plugin's source inside the backend's binary,
// for deployments that deliver it to Traefik from the backend's image (the
// Kubernetes init container runs "kurz plugin-source DIR"): exactly the files
// Traefik's local-plugin loader reads.
package kurz

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

//go:embed .traefik.yml plugin/*.go link/*.go
var pluginFiles embed.FS

// WritePluginSource writes the plugin's manifest and source, tests left out,
// under dir: Traefik's plugins-local/src/github.com/kurzlink/kurz.
func WritePluginSource(dir string) error {
	return fs.WalkDir(pluginFiles, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(name, "_test.go") {
			return err
		}
		b, err := pluginFiles.ReadFile(name)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}
