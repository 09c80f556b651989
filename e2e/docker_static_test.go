package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/internal/testenv"
)

// The Docker setup's Traefik environment (traefik/docker.env and the compose
// file's) is read by the pinned Traefik binary itself: it starts, answers ping
// and loads the plugin with the shared routers pointing at the Docker-provided
// service. Only the Docker provider has nothing to talk to.
func TestDockerStaticConfigurationLoads(t *testing.T) {
	root := testenv.Root()
	bin, err := stack.LookPath("KURZ_TRAEFIK_BIN", "", filepath.Join(root, "bin", "traefik"))
	if err == nil {
		_, err = os.Stat(bin)
	}
	testenv.Need(t, "bin/traefik (make traefik)", err)

	tr, err := MustLoadCompose(t, "docker-compose.yml").GetService("traefik")
	if err != nil {
		t.Fatal(err)
	}
	web, api := testenv.FreePort(t), testenv.FreePort(t)
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins-local", "src", "github.com", "kurzlink")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(plugins, "kurz")); err != nil {
		t.Fatal(err)
	}
	moved := map[string]string{ // the container's addresses and paths, moved here
		"TRAEFIK_ENTRYPOINTS_WEB_ADDRESS":     fmt.Sprintf("127.0.0.1:%d", web),
		"TRAEFIK_ENTRYPOINTS_TRAEFIK_ADDRESS": fmt.Sprintf("127.0.0.1:%d", api),
		"TRAEFIK_PROVIDERS_FILE_DIRECTORY":    filepath.Join(root, "traefik", "dynamic"),
		"TRAEFIK_PROVIDERS_DOCKER_ENDPOINT":   "unix://" + filepath.Join(dir, "no-docker.sock"),
		"KURZ_REDIS_ADDR":                     "127.0.0.1:1",
	}
	var env []string // the container's environment: docker.env and the compose file's
	for k, v := range tr.Environment {
		if m, ok := moved[k]; ok {
			env = append(env, k+"="+m)
			delete(moved, k)
		} else if v != nil {
			env = append(env, k+"="+*v)
		}
	}
	for k, m := range moved {
		env = append(env, k+"="+m)
	}
	p, err := stack.StartProcess(bin, nil, filepath.Join(dir, "traefik.log"), stack.ProcessOptions{Dir: dir, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(syscall.SIGTERM)
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", api)
	if err := stack.WaitHTTP(apiURL+"/ping", 60*time.Second, p); err != nil {
		t.Fatalf("Traefik with docker.env: %v\n%s", err, p.Tail())
	}
	if err := stack.WaitHTTP(apiURL+"/api/http/middlewares/kurz-edge@file", 30*time.Second, p); err != nil {
		t.Fatalf("plugin middleware not loaded: %v\n%s", err, p.Tail())
	}
	mw := do(t, "GET", apiURL+"/api/http/middlewares/kurz-edge@file", "", "")
	if mw.Body["status"] != "enabled" || mw.Body["type"] != "kurz" {
		t.Errorf("kurz-edge = %s", mw.Raw)
	}
	rt := do(t, "GET", apiURL+"/api/http/routers/kurz-redirect@file", "", "")
	if svc, _ := rt.Body["service"].(string); svc != "kurz-backend@docker" {
		t.Errorf("kurz-redirect routes to %q, want kurz-backend@docker: %s", svc, rt.Raw)
	}
}
