// Package deploy renders kurz's Helm chart offline (the Helm v3 Go module,
// client-only: no cluster) and splits the result into objects, for make k8s
// and for the tests that decode and cross-check every object.
package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/kurzlink/kurz"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"sigs.k8s.io/yaml"
)

// Release is the name and namespace the chart is rendered for.
const (
	Release   = "kurz"
	Namespace = "kurz"
)

// Object is one rendered manifest.
type Object struct {
	Source     string // the template it came from
	APIVersion string
	Kind       string
	Name       string
	JSON       []byte // the manifest, converted from YAML with duplicate keys refused
}

// Render renders the chart in chartDir with its values overridden by each
// file of valueFiles in turn, and returns its objects in a stable order.
func Render(chartDir string, valueFiles ...string) ([]Object, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	vals := map[string]any{}
	for _, f := range valueFiles {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return nil, err
		}
		vals = chartutil.CoalesceTables(v.AsMap(), vals) // later files win
	}
	top, err := chartutil.ToRenderValues(chrt, vals,
		chartutil.ReleaseOptions{Name: Release, Namespace: Namespace, Revision: 1, IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(chrt, top)
	if err != nil {
		return nil, err
	}
	var objects []Object
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if filepath.Ext(name) != ".yaml" {
			continue
		}
		for _, doc := range splitDocuments(files[name]) {
			o, err := parseObject(name, doc)
			if err != nil {
				return nil, err
			}
			objects = append(objects, o)
		}
	}
	return objects, nil
}

var documentSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// splitDocuments returns the YAML documents of a manifest that hold more than comments.
func splitDocuments(manifest string) []string {
	var docs []string
	for _, doc := range documentSeparator.Split(manifest, -1) {
		for _, line := range strings.Split(doc, "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				docs = append(docs, doc)
				break
			}
		}
	}
	return docs
}

func parseObject(source, doc string) (Object, error) {
	j, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w", source, err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(j, &head); err != nil {
		return Object{}, fmt.Errorf("%s: %w", source, err)
	}
	if head.APIVersion == "" || head.Kind == "" || head.Metadata.Name == "" {
		return Object{}, fmt.Errorf("%s: an object without apiVersion, kind or name:\n%s", source, doc)
	}
	return Object{Source: source, APIVersion: head.APIVersion, Kind: head.Kind, Name: head.Metadata.Name, JSON: j}, nil
}

// YAML is the objects as one multi-document manifest.
func YAML(objects []Object) (string, error) {
	var b strings.Builder
	for _, o := range objects {
		y, err := yaml.JSONToYAML(o.JSON)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "---\n# Source: %s\n%s", o.Source, y)
	}
	return b.String(), nil
}

// PluginSourceSHA256 is the SHA-256 of the plugin source that "kurz
// plugin-source" writes (names and contents, in order): the Traefik values
// carry it as a pod annotation, so that a new plugin restarts Traefik's pods.
func PluginSourceSHA256() (string, error) {
	dir, err := os.MkdirTemp("", "kurz-plugin-source-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := kurz.WritePluginSource(dir); err != nil {
		return "", err
	}
	var names []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, path)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	slices.Sort(names)
	h := sha256.New()
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, name)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// PluginChecksumAnnotation is the Traefik values' pod annotation with PluginSourceSHA256.
const PluginChecksumAnnotation = "kurz.link/plugin-source-sha256"

var checksumLine = regexp.MustCompile(`(` + regexp.QuoteMeta(PluginChecksumAnnotation) + `: )"[0-9a-f]*"`)

// UpdatePluginChecksum writes the current PluginSourceSHA256 into the Traefik values file.
func UpdatePluginChecksum(valuesFile string) error {
	sum, err := PluginSourceSHA256()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(valuesFile)
	if err != nil {
		return err
	}
	if !checksumLine.Match(b) {
		return fmt.Errorf("%s has no %s annotation", valuesFile, PluginChecksumAnnotation)
	}
	return os.WriteFile(valuesFile, checksumLine.ReplaceAll(b, []byte(`${1}"`+sum+`"`)), 0o644)
}
