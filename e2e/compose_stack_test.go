//go:build compose

package e2e_test

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kurzlink/kurz/internal/testenv"
)

// TestComposeStack runs docker-compose.yml as the README tells users to, with
// the images scripts/compose-images.sh built here swapped in by an override
// file, and checks it through the Traefik container's published ports.
// `make compose-test` builds the images and the compose CLI and runs it.
func TestComposeStack(t *testing.T) {
	c := MustComposeUp(t)

	created := c.MustShorten(t, "https://example.com/compose/first")
	t.Run("CreateRedirectPageHealth", func(t *testing.T) {
		res := c.Get(t, "/"+created)
		if got, want := res.Status, http.StatusMovedPermanently; got != want {
			t.Fatalf("redirect = %d %s, want %d", got, res.Raw, want)
		}
		if got, want := res.Header.Get("Location"), "https://example.com/compose/first"; got != want {
			t.Errorf("Location = %q, want %q", got, want)
		}
		if res := c.Get(t, "/"); res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("web page = %d %s", res.Status, res.Header.Get("Content-Type"))
		}
		if res := c.Get(t, "/health/ready"); res.Status != http.StatusOK {
			t.Errorf("/health/ready = %d %s", res.Status, res.Raw)
		}
		mw := testenv.Do(t, "GET", c.API+"/api/http/middlewares/kurz-edge@file", "")
		if mw.Body["status"] != "enabled" || mw.Body["type"] != "kurz" {
			t.Errorf("kurz-edge in the Traefik container = %s", mw.Raw)
		}
	})
	t.Run("EdgeAnswersWithEveryBackendKilled", func(t *testing.T) {
		c.Compose(t, "kill", "backend")
		c.WaitServersUp(t, 0)
		res, err := testenv.Send("GET", c.Web+"/"+created, "")
		if err != nil || res.Status != http.StatusMovedPermanently {
			t.Errorf("redirect with every backend killed = %d %.100s %v: the plugin in Traefik should answer it from Redis", res.Status, res.Raw, err)
		}
		c.Compose(t, "up", "-d", "--wait")
		c.WaitServersUp(t, 3)
	})
	t.Run("NoRouteAroundTheEdge", func(t *testing.T) {
		// Traefik's Docker provider adds a Host(`<service>-<project>`) router
		// for a labelled container unless its labels name one.
		var routers []struct {
			Name        string   `json:"name"`
			EntryPoints []string `json:"entryPoints"`
			Middlewares []string `json:"middlewares"`
		}
		res := testenv.Do(t, "GET", c.API+"/api/http/routers", "")
		if err := json.Unmarshal([]byte(res.Raw), &routers); err != nil {
			t.Fatal(err)
		}
		for _, r := range routers {
			for _, ep := range r.EntryPoints {
				if ep == "web" && !slices.Contains(r.Middlewares, "kurz-edge@file") {
					t.Errorf("router %s on the public entrypoint skips the edge and the rate limit: %+v", r.Name, r)
				}
			}
		}
	})
	t.Run("TraefikReadsDockerThroughTheSocketProxy", func(t *testing.T) {
		// From inside the Traefik container, the proxy answers reads Traefik
		// needs and refuses the rest.
		for _, tc := range []struct{ request, want string }{
			{"GET /containers/json HTTP/1.0", "200"},
			{"GET /version HTTP/1.0", "200"},
			{"POST /containers/create HTTP/1.0", "403"},
			{"GET /secrets HTTP/1.0", "403"},
			{"GET /images/json HTTP/1.0", "403"},
		} {
			script := fmt.Sprintf(`exec 3<>/dev/tcp/socket-proxy/2375 && printf '%s\r\nHost: docker\r\nContent-Length: 0\r\n\r\n' >&3 && head -1 <&3`, tc.request)
			out := c.Compose(t, "exec", "-T", "traefik", "bash", "-c", script)
			if f := strings.Fields(out); len(f) < 2 || f[1] != tc.want {
				t.Errorf("%s through socket-proxy = %q, want %s", tc.request, out, tc.want)
			}
		}
	})

	var codes []string
	for i := 0; i < 20; i++ {
		codes = append(codes, c.MustShorten(t, fmt.Sprintf("https://example.com/compose/load/%d", i)))
	}
	t.Run("ScaleUpAndDownUnderLoad", func(t *testing.T) {
		load := c.StartLoad(t, codes)
		start := time.Now()
		c.Compose(t, "up", "-d", "--wait", "--no-recreate", "--scale", "backend=5")
		c.WaitServersUp(t, 5)
		c.Compose(t, "up", "-d", "--wait", "--no-recreate", "--scale", "backend=3")
		c.WaitServersUp(t, 3)
		time.Sleep(2 * time.Second) // traffic on the three that stayed
		requests, failures := load.Stop()
		t.Logf("%d requests while scaling 3 → 5 → 3", requests)
		if len(failures) != 0 {
			t.Errorf("%d of %d requests failed while scaling, first: %v last: %v", len(failures), requests, failures[:min(5, len(failures))], failures[max(0, len(failures)-3):])
			t.Logf("Traefik's log:\n%s", c.Compose(t, "logs", "--no-color", "--since", start.Add(-5*time.Second).Format(time.RFC3339), "traefik"))
		}
	})
	t.Run("KilledBackendNoFailedRedirectAfterHealthWindow", func(t *testing.T) {
		ids := strings.Fields(c.Compose(t, "ps", "-q", "backend"))
		if len(ids) != 3 {
			t.Fatalf("backend containers = %v, want 3", ids)
		}
		killed := time.Now()
		docker(t, "kill", ids[0])
		// The Docker provider drops a dead container sooner than the health check.
		window := HealthWindow(t, MustLoadCompose(t, "docker-compose.yml"))
		c.WaitServersUp(t, 2)
		t.Logf("Traefik dropped the killed backend after %v (window %v)", time.Since(killed).Round(100*time.Millisecond), window)
		if d := time.Since(killed); d > window {
			t.Errorf("the killed backend stayed in the pool for %v, more than the health window %v", d, window)
		}
		load := c.StartLoad(t, codes)
		time.Sleep(3 * time.Second)
		requests, failures := load.Stop()
		if len(failures) != 0 || requests == 0 {
			t.Errorf("%d of %d requests failed after the health window, first: %v", len(failures), requests, failures[:min(5, len(failures))])
		}
	})
	t.Run("DownUpKeepsLinksAndCounts", func(t *testing.T) {
		key := strings.Fields(c.Compose(t, "exec", "-T", "backend", "/kurz", "keys", "create", "--name", "compose-test", "--role", "admin"))[0]
		visits := map[string]int{}
		for i := 0; i < 5; i++ {
			code := c.MustShorten(t, fmt.Sprintf("https://example.com/compose/kept/%d", i))
			visits[code] = i + 1
			for v := 0; v < i+1; v++ {
				if res := c.Get(t, "/"+code); res.Status != http.StatusMovedPermanently {
					t.Fatalf("visit %s = %d %s", code, res.Status, res.Raw)
				}
			}
		}
		c.Compose(t, "down")
		c.Compose(t, "up", "-d", "--wait")
		c.WaitServersUp(t, 3)
		for code, want := range visits {
			if res := c.Get(t, "/"+code); res.Status != http.StatusMovedPermanently {
				t.Errorf("after down and up, /%s = %d %s", code, res.Status, res.Raw)
			}
			testenv.Eventually(t, 10*time.Second, func() error {
				res := testenv.Do(t, "GET", c.Web+"/api/links/"+code, "", "Authorization", "Bearer "+key)
				got, _ := res.Body["access_count"].(float64)
				if int(got) != want+1 { // the visits before down, and the one just now
					return fmt.Errorf("%s access_count = %v, want %d: %s", code, got, want+1, res.Raw)
				}
				return nil
			})
		}
	})
	t.Run("HTTPSOverrideStarts", func(t *testing.T) {
		// No certificate can be fetched here: Let's Encrypt is unreachable, so
		// Traefik serves its default certificate. Checked: the override parses,
		// Traefik starts healthy with it, HTTP redirects to HTTPS and the
		// websecure entrypoint routes through the edge. Not checked: ACME.
		https := c.WithFiles("docker-compose.yml", "docker-compose.https.yml")
		https.Compose(t, "up", "-d", "--wait", "traefik")
		res := c.Get(t, "/"+created)
		if loc := res.Header.Get("Location"); res.Status/100 != 3 || !strings.HasPrefix(loc, "https://") {
			t.Errorf("HTTP with the HTTPS override = %d Location %q, want a redirect to https://", res.Status, loc)
		}
		client := &http.Client{
			Timeout:       10 * time.Second,
			Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		req, _ := http.NewRequest("GET", c.HTTPS+"/"+created, nil)
		req.Host = "kurz.example.test"
		r, err := client.Do(req)
		if err != nil {
			t.Fatalf("HTTPS: %v", err)
		}
		r.Body.Close()
		if got, want := r.StatusCode, http.StatusMovedPermanently; got != want || r.Header.Get("Location") != "https://example.com/compose/first" {
			t.Errorf("HTTPS redirect = %d %q, want %d to the link", got, r.Header.Get("Location"), want)
		}
	})
}

// composeStack is one compose project of the test, on free ports.
type composeStack struct {
	Project, EnvFile string
	Files            []string // -f, in order
	Web, API, HTTPS  string   // base URLs on 127.0.0.1
	override         string
}

// MustComposeUp starts the stack and stops it, volumes included, at cleanup.
func MustComposeUp(tb testing.TB) *composeStack {
	tb.Helper()
	override := os.Getenv("KURZ_COMPOSE_OVERRIDE")
	if override == "" {
		tb.Fatal("KURZ_COMPOSE_OVERRIDE is empty: run make compose-test, which builds the images and names their override file")
	}
	web, api, https := testenv.FreePort(tb), testenv.FreePort(tb), testenv.FreePort(tb)
	env := filepath.Join(tb.TempDir(), ".env")
	lines := []string{
		"KURZ_CODE_SECRET=" + randomHex(tb, 32),
		"POSTGRES_PASSWORD=" + randomHex(tb, 16),
		"REDIS_PASSWORD=" + randomHex(tb, 16),
		fmt.Sprintf("KURZ_HTTP_PORT=%d", web),
		fmt.Sprintf("KURZ_API_PORT=%d", api),
		fmt.Sprintf("KURZ_HTTPS_PORT=%d", https),
		fmt.Sprintf("KURZ_PUBLIC_URL=http://127.0.0.1:%d", web),
		"KURZ_RATE_AVERAGE=100000", // the load below comes from one client address
		"KURZ_RATE_BURST=100000",
		"KURZ_DOMAIN=kurz.example.test",
		"ACME_EMAIL=ops@example.test",
	}
	if err := os.WriteFile(env, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	c := &composeStack{
		Project:  fmt.Sprintf("kurz-compose-test-%d", os.Getpid()),
		EnvFile:  env,
		Web:      fmt.Sprintf("http://127.0.0.1:%d", web),
		API:      fmt.Sprintf("http://127.0.0.1:%d", api),
		HTTPS:    fmt.Sprintf("https://127.0.0.1:%d", https),
		override: override,
	}
	c.Files = []string{"docker-compose.yml", override}
	tb.Cleanup(func() {
		if tb.Failed() {
			out, _ := c.command("logs", "--no-color", "--tail", "40").CombinedOutput()
			tb.Logf("compose logs:\n%s", out)
			out, _ = c.command("logs", "--no-color", "traefik").CombinedOutput()
			tb.Logf("Traefik's log:\n%s", out)
		}
		if out, err := c.command("down", "--volumes", "--remove-orphans", "--timeout", "5").CombinedOutput(); err != nil {
			tb.Errorf("compose down: %v\n%s", err, out)
		}
	})
	c.Compose(tb, "up", "-d", "--wait")
	c.WaitServersUp(tb, 3)
	return c
}

// WithFiles is the same project with other compose files (the override last).
func (c *composeStack) WithFiles(files ...string) *composeStack {
	d := *c
	d.Files = append(files, c.override)
	return &d
}

func (c *composeStack) command(args ...string) *exec.Cmd {
	full := []string{"compose", "--project-name", c.Project, "--env-file", c.EnvFile}
	for _, f := range c.Files {
		full = append(full, "-f", f)
	}
	cmd := exec.Command("docker", append(full, args...)...)
	cmd.Dir = testenv.Root()
	return cmd
}

// Compose runs docker compose with args and returns its standard output.
func (c *composeStack) Compose(tb testing.TB, args ...string) string {
	tb.Helper()
	cmd := c.command(args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("docker compose %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func docker(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (c *composeStack) Get(tb testing.TB, path string) response {
	tb.Helper()
	return testenv.Do(tb, "GET", c.Web+path, "")
}

func (c *composeStack) MustShorten(tb testing.TB, url string) string {
	tb.Helper()
	res, err := c.shorten(url)
	if err != nil {
		tb.Fatalf("shorten %s: %v", url, err)
	}
	return res
}

func (c *composeStack) shorten(url string) (string, error) {
	b, _ := json.Marshal(map[string]string{"url": url})
	res, err := testenv.Send("POST", c.Web+"/api/shorten", string(b), "Content-Type", "application/json")
	if err != nil {
		return "", err
	}
	code, _ := res.Body["short_code"].(string)
	if res.Status != http.StatusCreated && res.Status != http.StatusOK || code == "" {
		return "", fmt.Errorf("%d %s", res.Status, res.Raw)
	}
	return code, nil
}

// WaitServersUp waits until Traefik's Docker-provided pool has exactly n servers, all UP.
func (c *composeStack) WaitServersUp(tb testing.TB, n int) {
	tb.Helper()
	testenv.Eventually(tb, 30*time.Second, func() error {
		res, err := testenv.Send("GET", c.API+"/api/http/services/kurz-backend@docker", "")
		if err != nil {
			return err
		}
		status, _ := res.Body["serverStatus"].(map[string]any)
		up, servers := 0, 0
		for url, v := range status {
			if url == "" { // the placeholder of a pool whose replicas all stopped
				continue
			}
			servers++
			if v == "UP" {
				up++
			}
		}
		if up != n || servers != n {
			return fmt.Errorf("%d of %d servers UP, want %d: %s", up, servers, n, res.Raw)
		}
		return nil
	})
}

// composeLoad creates links and follows them, and follows known codes, until stopped.
type composeLoad struct {
	stop     func()
	requests atomic.Int64
	mu       sync.Mutex
	failures []string
}

func (c *composeStack) StartLoad(tb testing.TB, codes []string) *composeLoad {
	l := &composeLoad{}
	var n atomic.Int64
	start := time.Now()
	fail := func(format string, args ...any) {
		l.mu.Lock()
		l.failures = append(l.failures, fmt.Sprintf("%v: ", time.Since(start).Round(10*time.Millisecond))+fmt.Sprintf(format, args...))
		l.mu.Unlock()
	}
	creator := func() {
		l.requests.Add(2)
		url := fmt.Sprintf("https://example.com/compose/%s/%d", tb.Name(), n.Add(1))
		code, err := c.shorten(url)
		if err != nil {
			fail("create: %v", err)
			return
		}
		if res, err := testenv.Send("GET", c.Web+"/"+code, ""); err != nil || res.Status != http.StatusMovedPermanently {
			fail("redirect of a new link /%s: %d %.100s %v", code, res.Status, res.Raw, err)
		}
	}
	follower := func() {
		l.requests.Add(1)
		code := codes[int(n.Add(1))%len(codes)]
		if res, err := testenv.Send("GET", c.Web+"/"+code, ""); err != nil || res.Status != http.StatusMovedPermanently {
			fail("redirect /%s: %d %.100s %v", code, res.Status, res.Raw, err)
		}
	}
	stopCreators := startLoad(2, creator)
	stopFollowers := startLoad(2, follower)
	l.stop = func() { stopCreators(); stopFollowers() }
	return l
}

// Stop ends the load and returns how many requests it sent and which failed.
func (l *composeLoad) Stop() (int64, []string) {
	l.stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.requests.Load(), l.failures
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}
