package stack

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// Traefik runs the pinned Traefik with kurz's configuration and the edge
// plugin as a local plugin (Dir/plugins-local/src/<module> → the repository).
type Traefik struct {
	Place
	Bin         string
	Root        string // repository root
	Dir         string // working directory: config, plugins-local, logs
	Bind        string // address of the web entrypoint, 127.0.0.1 by default
	HTTPPort    int
	APIPort     int
	BackendURLs []string
	Files       []string // dynamic configuration files; kurz's own when empty
	ExtraFiles  []string // added to those (the benchmarks' routes)
	// ExtraPlugins are more local plugins: module name → source folder (with its .traefik.yml).
	ExtraPlugins map[string]string
	// Ready is the router whose loading Start waits for; "": kurz-redirect@file (none without the plugin).
	Ready    string
	NoPlugin bool // leave the edge plugin out (the benchmarks' ceiling)
	Debug    bool // serve /debug/pprof on the API entrypoint
	// TrustedIPs are proxies in front of Traefik whose X-Forwarded-For it keeps
	// (KURZ_TRUSTED_PROXIES): visit analytics then see the client's address.
	TrustedIPs []string
	// Metrics are Traefik's Prometheus metrics: "" (none), "entrypoints"
	// (requests by entrypoint, method, code) or "all" (by router and service too).
	Metrics string
	// AccessLogMode is "" (no access log), "errors" (errors and slow requests) or "all".
	AccessLogMode string
	Env           []string // KURZ_* settings the dynamic configuration reads
	proc          *Process
}

// URL is the public entrypoint; APIURL the localhost-only API, ping and metrics.
func (t *Traefik) URL() string    { return "http://" + t.host() + ":" + strconv.Itoa(t.HTTPPort) }
func (t *Traefik) APIURL() string { return "http://" + t.host() + ":" + strconv.Itoa(t.APIPort) }

// AccessLogFile is the file of Traefik's JSON access log, if it keeps one.
func (t *Traefik) AccessLogFile() string { return filepath.Join(t.Dir, "access.log") }

// Start lays out the configuration, starts Traefik and waits for ping and the plugin.
func (t *Traefik) Start() error {
	if err := t.layout(); err != nil {
		return err
	}
	env := append([]string{"KURZ_BACKEND_URLS=" + strings.Join(t.BackendURLs, ",")}, t.Env...)
	args := []string{"--configFile=" + filepath.Join(t.Dir, "traefik.yml")}
	p, err := StartProcess(t.Bin, args, filepath.Join(t.Dir, "traefik.log"), ProcessOptions{Dir: t.Dir, Env: env, Prefix: t.Prefix})
	if err != nil {
		return err
	}
	t.proc = p
	client := t.httpClient(time.Second)
	if err := waitHTTP(client, t.APIURL()+"/ping", 60*time.Second, p); err != nil {
		return fmt.Errorf("traefik: %w\n%s", err, p.Tail())
	}
	if t.NoPlugin {
		return nil
	}
	// Routers appear once the file provider and the plugin are loaded.
	ready := t.Ready
	if ready == "" {
		ready = "kurz-redirect@file"
	}
	if err := waitHTTP(client, t.APIURL()+"/api/http/routers/"+ready, 30*time.Second, p); err != nil {
		return fmt.Errorf("traefik did not load the router %s: %w\n%s", ready, err, p.Tail())
	}
	if t.Ready != "" {
		return nil
	}
	// Traefik runs on when it cannot bind an entrypoint: ask through the public one.
	if err := waitHTTP(client, t.URL()+"/health", 30*time.Second, p); err != nil {
		return fmt.Errorf("traefik's public entrypoint does not answer (is port %d taken?): %w\n%s", t.HTTPPort, err, p.Tail())
	}
	return nil
}

func (t *Traefik) layout() error {
	dyn := filepath.Join(t.Dir, "dynamic")
	plugin := filepath.Join(t.Dir, "plugins-local", "src", "github.com", "kurzlink")
	for _, d := range []string{dyn, plugin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	links := map[string]string{filepath.Join(plugin, "kurz"): t.Root}
	var plugins []string
	for module, dir := range t.ExtraPlugins {
		link := filepath.Join(t.Dir, "plugins-local", "src", filepath.FromSlash(module))
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return err
		}
		links[link] = dir
		plugins = append(plugins, module)
	}
	sort.Strings(plugins)
	files := t.Files
	if len(files) == 0 {
		files = []string{
			filepath.Join(t.Root, "traefik", "dynamic", "kurz.yml"),
			filepath.Join(t.Root, "traefik", "native", "backend.yml"),
		}
	}
	files = append(files, t.ExtraFiles...)
	for _, f := range files {
		links[filepath.Join(dyn, filepath.Base(f))] = f
	}
	for link, target := range links {
		os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return err
		}
	}
	tmpl, err := template.New("traefik.yml.tmpl").Funcs(template.FuncMap{"base": path.Base}).
		ParseFiles(filepath.Join(t.Root, "traefik", "native", "traefik.yml.tmpl"))
	if err != nil {
		return err
	}
	out, err := os.Create(filepath.Join(t.Dir, "traefik.yml"))
	if err != nil {
		return err
	}
	defer out.Close()
	bind := t.Bind
	if bind == "" {
		bind = t.host()
	}
	return tmpl.Execute(out, map[string]any{
		"Bind": bind, "HTTPPort": t.HTTPPort, "APIBind": t.host(), "APIPort": t.APIPort,
		"AccessLog": t.AccessLogFile(), "AccessLogMode": t.AccessLogMode, "Metrics": t.Metrics, "DynamicDir": dyn, "Plugin": !t.NoPlugin, "Debug": t.Debug, "ExtraPlugins": plugins,
		"TrustedIPs": t.TrustedIPs,
	})
}

// Stop stops Traefik.
func (t *Traefik) Stop() { t.proc.Stop(syscall.SIGTERM) }

// Pid is Traefik's process id.
func (t *Traefik) Pid() int { return t.proc.Pid() }

// Kill ends Traefik at once, as a crash would.
func (t *Traefik) Kill() { t.proc.Kill() }

// Log returns the end of Traefik's own log.
func (t *Traefik) Log() string { return t.proc.Tail() }
