package e2e_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/kurzlink/kurz/internal/testenv"
)

// MustLoadCompose parses the compose files as docker compose would, with .env.example as .env.
func MustLoadCompose(tb testing.TB, files ...string) *types.Project {
	tb.Helper()
	root := testenv.Root()
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join(root, f))
	}
	opts, err := cli.NewProjectOptions(paths,
		cli.WithWorkingDirectory(root),
		cli.WithEnvFiles(filepath.Join(root, ".env.example")),
		cli.WithDotEnv,
		cli.WithName("kurz"),
	)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		tb.Fatalf("loading %v: %v", files, err)
	}
	return p
}

// HealthWindow is how long Traefik may send requests to a backend that stopped
// being ready: its health check's interval plus timeout (the backend's labels).
func HealthWindow(tb testing.TB, p *types.Project) time.Duration {
	tb.Helper()
	b, err := p.GetService("backend")
	if err != nil {
		tb.Fatal(err)
	}
	var sum time.Duration
	for _, k := range []string{"interval", "timeout"} {
		d, err := time.ParseDuration(b.Labels["traefik.http.services.kurz-backend.loadbalancer.healthcheck."+k])
		if err != nil {
			tb.Fatalf("backend health check %s: %v", k, err)
		}
		sum += d
	}
	return sum
}

func TestDockerCompose(t *testing.T) {
	p := MustLoadCompose(t, "docker-compose.yml")
	svc := func(name string) types.ServiceConfig {
		s, err := p.GetService(name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("Topology", func(t *testing.T) {
		got := p.ServiceNames()
		slices.Sort(got)
		if want := []string{"backend", "postgres", "redis", "socket-proxy", "traefik"}; !slices.Equal(got, want) {
			t.Errorf("services = %v, want %v", got, want)
		}
	})
	t.Run("TraefikPinnedWithPluginAndDockerProvider", func(t *testing.T) {
		tr := svc("traefik")
		if tr.Image != "traefik:v3.6.12" {
			t.Errorf("image = %q, want traefik:v3.6.12", tr.Image)
		}
		mounts := map[string]types.ServiceVolumeConfig{}
		for _, v := range tr.Volumes {
			mounts[v.Target] = v
		}
		if _, ok := mounts["/var/run/docker.sock"]; ok {
			t.Error("Traefik mounts the Docker socket: it must read the API through socket-proxy")
		}
		for target, source := range map[string]string{
			"/etc/traefik/dynamic": "traefik/dynamic",
			"/plugins-local/src/github.com/kurzlink/kurz/.traefik.yml": ".traefik.yml",
			"/plugins-local/src/github.com/kurzlink/kurz/plugin":       "plugin",
			"/plugins-local/src/github.com/kurzlink/kurz/link":         "link",
		} {
			m, ok := mounts[target]
			if !ok || !strings.HasSuffix(m.Source, source) || !m.ReadOnly {
				t.Errorf("mount %s = %+v, want read-only from %s", target, m, source)
			}
		}
		if tr.WorkingDir != "/" {
			t.Errorf("working_dir = %q, want / (plugins-local is relative)", tr.WorkingDir)
		}
		env := tr.Environment
		for k, want := range map[string]string{
			"TRAEFIK_PROVIDERS_DOCKER":                          "true",
			"TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT":         "false",
			"TRAEFIK_PROVIDERS_DOCKER_ENDPOINT":                 "tcp://socket-proxy:2375",
			"TRAEFIK_PROVIDERS_DOCKER_NETWORK":                  "kurz_kurz",
			"TRAEFIK_PROVIDERS_DOCKER_CONSTRAINTS":              "Label(`com.docker.compose.project`, `kurz`)",
			"TRAEFIK_EXPERIMENTAL_LOCALPLUGINS_KURZ_MODULENAME": "github.com/kurzlink/kurz",
			"TRAEFIK_PROVIDERS_FILE_DIRECTORY":                  "/etc/traefik/dynamic",
			"KURZ_BACKEND_SERVICE":                              "kurz-backend@docker",
		} {
			if v := env[k]; v == nil || *v != want {
				t.Errorf("traefik env %s = %v, want %q", k, v, want)
			}
		}
		for _, port := range tr.Ports {
			if port.Target == 8080 && port.HostIP != "127.0.0.1" {
				t.Errorf("API port published on %q, want 127.0.0.1 only", port.HostIP)
			}
		}
	})
	t.Run("SocketProxyReadOnlyAndInternal", func(t *testing.T) {
		sp := svc("socket-proxy")
		if !strings.HasPrefix(sp.Image, "tecnativa/docker-socket-proxy:v") {
			t.Errorf("socket-proxy image = %q, want a pinned tecnativa/docker-socket-proxy", sp.Image)
		}
		if len(sp.Volumes) != 1 || sp.Volumes[0].Target != "/var/run/docker.sock" || !sp.Volumes[0].ReadOnly {
			t.Errorf("socket-proxy volumes = %+v, want the Docker socket read-only", sp.Volumes)
		}
		if v := sp.Environment["CONTAINERS"]; v == nil || *v != "1" {
			t.Errorf("socket-proxy CONTAINERS = %v, want 1", v)
		}
		if v := sp.Environment["POST"]; v != nil && *v != "0" {
			t.Errorf("socket-proxy POST = %v: Traefik only reads", *v)
		}
		if len(sp.Ports) != 0 || len(sp.Networks) != 1 || !p.Networks["docker-api"].Internal {
			t.Errorf("socket-proxy must be reachable on the internal docker-api network only: ports %v networks %v", sp.Ports, sp.Networks)
		}
		if _, ok := sp.Networks["docker-api"]; !ok {
			t.Errorf("socket-proxy networks = %v, want docker-api", sp.Networks)
		}
	})
	t.Run("BackendsFromLabelsWithHealthChecks", func(t *testing.T) {
		b := svc("backend")
		if b.Build == nil || b.Deploy == nil || b.Deploy.Replicas == nil || *b.Deploy.Replicas < 3 {
			t.Errorf("backend must be built here and run ≥ 3 replicas: build %v deploy %+v", b.Build, b.Deploy)
		}
		if len(b.Ports) != 0 {
			t.Errorf("backend publishes ports %v: it must be reached through Traefik only (and scale)", b.Ports)
		}
		for k, want := range map[string]string{
			"traefik.enable":                 "true",
			"traefik.docker.allownonrunning": "true",
			"traefik.http.services.kurz-backend.loadbalancer.healthcheck.path": "/health/ready",
		} {
			if got := b.Labels[k]; got != want {
				t.Errorf("label %s = %q, want %q", k, got, want)
			}
		}
		window := HealthWindow(t, p)
		drain, err := time.ParseDuration(*b.Environment["KURZ_SHUTDOWN_DRAIN"])
		if err != nil || drain <= window {
			t.Errorf("KURZ_SHUTDOWN_DRAIN = %v (%v), want longer than Traefik's health window %v", drain, err, window)
		}
		if b.StopGracePeriod == nil || time.Duration(*b.StopGracePeriod) < drain+10*time.Second {
			t.Errorf("stop_grace_period = %v, want the drain plus 10s to push and fold the last counts", b.StopGracePeriod)
		}
		for _, dep := range []string{"postgres", "redis"} {
			if d, ok := b.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("backend must wait for %s to be healthy: %+v", dep, d)
			}
		}
		if b.HealthCheck == nil || !slices.Contains(b.HealthCheck.Test, "healthcheck") {
			t.Errorf("backend healthcheck = %+v", b.HealthCheck)
		}
	})
	t.Run("RedisAsDesigned", func(t *testing.T) {
		r := svc("redis")
		cmd := strings.Join(r.Command, " ")
		if !strings.HasPrefix(r.Image, "redis:7") || !strings.Contains(cmd, "--maxmemory 2gb") || !strings.Contains(cmd, "--maxmemory-policy volatile-lru") {
			t.Errorf("redis = %s %s", r.Image, cmd)
		}
		if r.HealthCheck == nil {
			t.Error("redis has no healthcheck")
		}
	})
	t.Run("PostgresWithVolumeAndHealthcheck", func(t *testing.T) {
		pg := svc("postgres")
		if pg.HealthCheck == nil || !slices.Contains(pg.HealthCheck.Test, "pg_isready") {
			t.Errorf("postgres healthcheck = %+v", pg.HealthCheck)
		}
		if len(pg.Volumes) == 0 || pg.Volumes[0].Type != types.VolumeTypeVolume {
			t.Errorf("postgres volumes = %+v, want a named volume", pg.Volumes)
		}
	})
	t.Run("HTTPSOverride", func(t *testing.T) {
		tr, err := MustLoadCompose(t, "docker-compose.yml", "docker-compose.https.yml").GetService("traefik")
		if err != nil {
			t.Fatal(err)
		}
		if v := tr.Environment["TRAEFIK_CERTIFICATESRESOLVERS_LETSENCRYPT_ACME_EMAIL"]; v == nil || *v == "" {
			t.Error("HTTPS override sets no ACME email")
		}
		if v := tr.Environment["TRAEFIK_PROVIDERS_DOCKER"]; v == nil {
			t.Error("HTTPS override lost the base static configuration")
		}
	})
}
