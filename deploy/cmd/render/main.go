// Command render writes kurz's chart, rendered offline with the default and
// with the HA-off values, and the values for Traefik's chart into out/k8s/
// (make k8s), after writing the plugin source's checksum into those values.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kurzlink/kurz/deploy"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: render OUTDIR")
	}
	out := args[0]
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := deploy.UpdatePluginChecksum("traefik-values.yaml"); err != nil {
		return err
	}
	// The official Traefik chart is installed from its repository with these values.
	values, err := os.ReadFile("traefik-values.yaml")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "traefik-values.yaml"), values, 0o644); err != nil {
		return err
	}
	for name, values := range map[string][]string{
		"kurz.yaml":        nil,
		"kurz-ha-off.yaml": {"values-ha-off.yaml"},
	} {
		objects, err := deploy.Render("kurz", values...)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		manifest, err := deploy.YAML(objects)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, name), []byte(manifest), 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d objects\n", filepath.Join(out, name), len(objects))
	}
	return nil
}
