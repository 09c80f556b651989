package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kurzlink/kurz/internal/stack"
)

func main() {
	root, _ := os.Getwd()
	state, _ := os.MkdirTemp("", "kurz-prof-")
	os.Chmod(state, 0o755)
	ports := make([]int, 10)
	for i := range ports {
		ports[i], _ = stack.FreePort()
	}
	s, err := stack.Start(stack.Config{Root: root, StateDir: state, TraefikBin: root + "/bin/traefik", BackendBin: root + "/bin/kurz",
		HTTPPort: ports[0], APIPort: ports[1], RedisPort: ports[2], PostgresPort: ports[3], BackendPorts: ports[4:7], MetricsPorts: ports[7:10],
		ExtraTraefik: []string{filepath.Join(root, "traefik", "bench", "bench.yml")}})
	if err != nil {
		panic(err)
	}
	defer s.Stop()
	s.Traefik.Stop()
	s.Traefik.Debug = true
	if err := s.Traefik.Start(); err != nil {
		panic(err)
	}
	out, _ := exec.Command("curl", "-s", "-X", "POST", s.Traefik.URL()+"/api/shorten", "-H", "Content-Type: application/json", "-d", `{"url":"https://example.com/p"}`).Output()
	fmt.Println(string(out))
	var code string
	fmt.Sscanf(string(out), `{"short_code":"%7s`, &code)
	url := s.Traefik.URL() + "/" + code
	if len(os.Args) > 1 {
		url = s.Traefik.URL() + os.Args[1]
	}
	for _, host := range []string{"", "ceiling.bench"} {
		args := []string{"-t2", "-c64", "-d9s", url}
		if host != "" {
			args = append(args, "-H", "Host: "+host)
		}
		cmd := exec.Command("wrk", args...)
		var buf strings.Builder
		cmd.Stdout = &buf
		cmd.Start()
		time.Sleep(2 * time.Second)
		exec.Command("curl", "-s", "-o", "/tmp/traefik-"+host+".prof", s.Traefik.APIURL()+"/debug/pprof/profile?seconds=5").Run()
		cmd.Wait()
		fmt.Println(host, buf.String())
	}
}
