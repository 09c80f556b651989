package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"sigs.k8s.io/yaml"

	"github.com/kurzlink/kurz/deploy"
	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// traefikValues are the fields of deploy/traefik-values.yaml that kurz relies on.
type traefikValues struct {
	Image struct {
		Tag string `json:"tag"`
	} `json:"image"`
	Deployment struct {
		InitContainers []struct {
			Name         string   `json:"name"`
			Image        string   `json:"image"`
			Args         []string `json:"args"`
			VolumeMounts []struct {
				Name      string `json:"name"`
				MountPath string `json:"mountPath"`
			} `json:"volumeMounts"`
		} `json:"initContainers"`
		AdditionalVolumes []struct {
			Name     string          `json:"name"`
			EmptyDir json.RawMessage `json:"emptyDir"`
		} `json:"additionalVolumes"`
		PodAnnotations map[string]string `json:"podAnnotations"`
	} `json:"deployment"`
	Experimental struct {
		AbortOnPluginFailure bool `json:"abortOnPluginFailure"`
		LocalPlugins         map[string]struct {
			ModuleName string `json:"moduleName"`
			MountPath  string `json:"mountPath"`
			Type       string `json:"type"`
			VolumeName string `json:"volumeName"`
		} `json:"localPlugins"`
	} `json:"experimental"`
	AdditionalArguments []string `json:"additionalArguments"`
}

func MustTraefikValues(tb testing.TB) traefikValues {
	tb.Helper()
	b, err := os.ReadFile("traefik-values.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	var v traefikValues
	if err := yaml.Unmarshal(b, &v); err != nil {
		tb.Fatal(err)
	}
	return v
}

// The values give Traefik the pinned version, the plugin from the init
// container's emptyDir, abortOnPluginFailure, and a checksum of the source.
func TestTraefikValues(t *testing.T) {
	v := MustTraefikValues(t)
	pin, err := os.ReadFile("../traefik/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if want := regexp.MustCompile(`github.com/traefik/traefik/v3 (v[0-9.]+)`).FindSubmatch(pin); want == nil || v.Image.Tag != string(want[1]) {
		t.Errorf("image.tag = %q, want the pinned %s", v.Image.Tag, want)
	}
	if !v.Experimental.AbortOnPluginFailure {
		t.Error("experimental.abortOnPluginFailure is off: one plugin error would disable every plugin while the pods stay Ready")
	}
	p, ok := v.Experimental.LocalPlugins["kurz"]
	if !ok || p.ModuleName != "github.com/kurzlink/kurz" || p.Type != "localPath" || p.MountPath != "/plugins-local/src/"+p.ModuleName {
		t.Fatalf("localPlugins.kurz = %+v", p)
	}
	var volume bool
	for _, vol := range v.Deployment.AdditionalVolumes {
		volume = volume || (vol.Name == p.VolumeName && vol.EmptyDir != nil)
	}
	if !volume {
		t.Errorf("volume %q is no emptyDir of deployment.additionalVolumes", p.VolumeName)
	}
	if len(v.Deployment.InitContainers) != 1 {
		t.Fatalf("%d init containers, want the one that writes the plugin's source", len(v.Deployment.InitContainers))
	}
	ic := v.Deployment.InitContainers[0]
	if len(ic.VolumeMounts) != 1 || ic.VolumeMounts[0].Name != p.VolumeName || ic.VolumeMounts[0].MountPath != p.MountPath {
		t.Errorf("the init container mounts %+v, want %s at %s", ic.VolumeMounts, p.VolumeName, p.MountPath)
	}
	if len(ic.Args) != 2 || ic.Args[0] != "plugin-source" || ic.Args[1] != p.MountPath {
		t.Errorf("the init container runs %v, want plugin-source %s", ic.Args, p.MountPath)
	}
	var chart struct {
		Image struct {
			Repository string `json:"repository"`
		} `json:"image"`
	}
	b, _ := os.ReadFile("kurz/values.yaml")
	yaml.Unmarshal(b, &chart)
	if !strings.HasPrefix(ic.Image, chart.Image.Repository+":") {
		t.Errorf("the init container runs %s, the kurz chart %s", ic.Image, chart.Image.Repository)
	}
	sum, err := deploy.PluginSourceSHA256()
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Deployment.PodAnnotations[deploy.PluginChecksumAnnotation]; got != sum {
		t.Errorf("pod annotation %s = %q, the plugin source's is %q: run make k8s", deploy.PluginChecksumAnnotation, got, sum)
	}
}

// The pinned Traefik loads the plugin from the layout the pods have — the
// init container's command writes it, the values' static settings load it —
// with the Middleware the chart renders (file provider instead of
// Kubernetes), and answers a redirect through Sentinel.
func TestTraefikLoadsThePluginAsThePodsWill(t *testing.T) {
	bin, err := stack.LookPath("KURZ_TRAEFIK_BIN", "", filepath.Join(testenv.Root(), "bin", "traefik"))
	if err == nil {
		_, err = os.Stat(bin)
	}
	testenv.Need(t, "bin/traefik (make traefik)", err)
	v := MustTraefikValues(t)
	p := v.Experimental.LocalPlugins["kurz"]
	dir := t.TempDir()

	// The init container: the kurz binary writes the source into the volume.
	kurzBin := filepath.Join(dir, "kurz")
	build := exec.Command("go", "build", "-o", kurzBin, "./backend/cmd/kurz")
	build.Dir = testenv.Root()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the backend: %v\n%s", err, out)
	}
	mount := filepath.Join(dir, p.MountPath) // Traefik's working directory is / in its image
	args := v.Deployment.InitContainers[0].Args
	if out, err := exec.Command(kurzBin, args[0], filepath.Join(dir, args[1])).CombinedOutput(); err != nil {
		t.Fatalf("kurz %v: %v\n%s", args, err, out)
	}

	// Redis and a Sentinel, as the operators run them.
	ports := make([]int, 4)
	for i := range ports {
		ports[i] = testenv.FreePort(t)
	}
	redis := &stack.Redis{Port: ports[0], Dir: filepath.Join(dir, "redis")}
	os.MkdirAll(redis.Dir, 0o755)
	if err := redis.Start(); err != nil {
		testenv.Need(t, "redis-server", err)
	}
	defer redis.Stop()
	r := MustRender(t)
	edge := r.get("Middleware", "kurz-edge").(*middleware)
	cfg := MustPluginConfig(t, edge.Spec.Plugin["kurz"])
	sentinel := &stack.Sentinel{Port: ports[1], Dir: filepath.Join(dir, "sentinel"), Master: redis, MasterName: cfg.MasterName, Quorum: 1}
	os.MkdirAll(sentinel.Dir, 0o755)
	if err := sentinel.Start(); err != nil {
		t.Fatal(err)
	}
	defer sentinel.Stop()

	// The Middleware's settings, its secrets resolved as Traefik resolves urn:k8s:secret.
	codeSecret := "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	secrets := map[string]string{"KURZ_CODE_SECRET": codeSecret, "REDIS_PASSWORD": ""}
	settings := map[string]any{}
	if err := json.Unmarshal(edge.Spec.Plugin["kurz"], &settings); err != nil {
		t.Fatal(err)
	}
	for k, val := range settings {
		if s, ok := val.(string); ok && strings.HasPrefix(s, "urn:k8s:secret:") {
			settings[k] = secrets[s[strings.LastIndex(s, ":")+1:]]
		}
	}
	settings["sentinelAddresses"] = []string{sentinel.Addr()} // the Service, here
	route := r.all("IngressRoute")[0].(*ingressRoute).Spec.Routes[0]
	dynamic := map[string]any{"http": map[string]any{
		"middlewares": map[string]any{"kurz-edge": map[string]any{"plugin": map[string]any{"kurz": settings}}},
		"routers": map[string]any{"kurz-redirect": map[string]any{
			"rule": route.Match, "priority": route.Priority, "middlewares": []string{"kurz-edge"}, "service": "kurz-backend"}},
		"services": map[string]any{"kurz-backend": map[string]any{"loadBalancer": map[string]any{
			"servers": []map[string]string{{"url": "http://127.0.0.1:9"}}}}}, // never reached: the edge answers
	}}
	MustWriteYAML(t, filepath.Join(dir, "dynamic.yml"), dynamic)

	// Static settings as the chart makes them from the values (flags), entrypoints moved.
	flags := []string{
		fmt.Sprintf("--entryPoints.web.address=127.0.0.1:%d", ports[2]),
		fmt.Sprintf("--entryPoints.traefik.address=127.0.0.1:%d", ports[3]),
		"--api.insecure=true", "--ping=true",
		"--providers.file.filename=" + filepath.Join(dir, "dynamic.yml"),
		"--experimental.localPlugins.kurz.moduleName=" + p.ModuleName,
		fmt.Sprintf("--experimental.abortonpluginfailure=%v", v.Experimental.AbortOnPluginFailure),
	}
	for _, a := range v.AdditionalArguments {
		if strings.HasPrefix(a, "--entryPoints.web.") {
			flags = append(flags, a)
		}
	}
	if _, err := os.Stat(filepath.Join(mount, "plugin", "kurz.go")); err != nil {
		t.Fatalf("the init container left no plugin source at %s: %v", mount, err)
	}
	proc, err := stack.StartProcess(bin, flags, filepath.Join(dir, "traefik.log"), stack.ProcessOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop(syscall.SIGTERM)
	api := fmt.Sprintf("http://127.0.0.1:%d", ports[3])
	if err := stack.WaitHTTP(api+"/api/http/middlewares/kurz-edge@file", 60*time.Second, proc); err != nil {
		t.Fatalf("Traefik did not load the plugin: %v\n%s", err, proc.Tail())
	}

	codec, err := link.NewCodec(codeSecret)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := codec.Encode(1)
	rc := goredis.NewClient(&goredis.Options{Addr: redis.Addr()})
	defer rc.Close()
	if err := rc.Set(context.Background(), link.CodeKey(code), "https://example.com/k8s", 0).Err(); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	testenv.Eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://127.0.0.1:%d/%s", ports[2], code), nil)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "https://example.com/k8s" {
			return fmt.Errorf("GET /%s = %d %q", code, res.StatusCode, res.Header.Get("Location"))
		}
		return nil
	})
}

func MustWriteYAML(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}
