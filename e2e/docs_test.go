package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kurzlink/kurz/internal/testenv"
)

// docPages are the pages a newcomer reads: their links are checked, and
// their runnable examples are run.
func docPages(tb testing.TB) []string {
	tb.Helper()
	root := testenv.Root()
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(pages) == 0 {
		tb.Fatalf("no pages in docs/: %v", err)
	}
	return append([]string{filepath.Join(root, "README.md"), filepath.Join(root, "deploy", "README.md")}, pages...)
}

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	notSlug   = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
)

// anchors are the ids GitHub gives a page's headings.
func anchors(page string) map[string]bool {
	out := map[string]bool{}
	for _, m := range mdHeading.FindAllStringSubmatch(stripFences(page), -1) {
		slug := strings.ReplaceAll(notSlug.ReplaceAllString(strings.ToLower(strings.TrimSpace(m[1])), ""), " ", "-")
		for n := 0; ; n++ { // a repeated heading gets -1, -2, …
			id := slug
			if n > 0 {
				id += "-" + strconv.Itoa(n)
			}
			if !out[id] {
				out[id] = true
				break
			}
		}
	}
	return out
}

// stripFences blanks code blocks, whose lines are neither headings nor links.
func stripFences(page string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, "```") {
			in = !in
			b.WriteString("\n")
			continue
		}
		if !in {
			b.WriteString(line)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Every relative link of the docs names a file of the repository, and an
// anchor a heading of that page.
func TestDocsLinks(t *testing.T) {
	for _, path := range docPages(t) {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(stripFences(string(src)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			dest := path
			if file != "" {
				dest = filepath.Join(filepath.Dir(path), file)
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s: link %q: no such file", rel(path), target)
					continue
				}
			}
			if anchor == "" || !strings.HasSuffix(dest, ".md") {
				continue
			}
			page, _ := os.ReadFile(dest)
			if !anchors(string(page))[anchor] {
				t.Errorf("%s: link %q: %s has no heading for #%s", rel(path), target, rel(dest), anchor)
			}
		}
	}
}

func rel(path string) string {
	r, err := filepath.Rel(testenv.Root(), path)
	if err != nil {
		return path
	}
	return r
}

// example is one command of a runnable block and the output it must print.
type example struct {
	page, command string
	line          int
	want          []string
}

// runnableExamples reads the ```sh run blocks of page: lines starting with
// "$ " are commands (a trailing \ continues one), the lines after a command
// its output, where … stands for any text.
func runnableExamples(tb testing.TB, path string) []example {
	tb.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var out []example
	in, continued := false, false
	for i, line := range strings.Split(string(src), "\n") {
		switch {
		case strings.HasPrefix(line, "```sh run"):
			in = true
		case in && strings.HasPrefix(line, "```"):
			in = false
		case !in:
		case continued:
			out[len(out)-1].command += "\n" + line
			continued = strings.HasSuffix(line, `\`)
		case strings.HasPrefix(line, "$ "):
			out = append(out, example{page: rel(path), line: i + 1, command: strings.TrimPrefix(line, "$ ")})
			continued = strings.HasSuffix(line, `\`)
		case len(out) == 0:
			tb.Fatalf("%s:%d: output before the first command of a runnable block", rel(path), i+1)
		default:
			out[len(out)-1].want = append(out[len(out)-1].want, line)
		}
	}
	return out
}

// matches reports whether got is want, where … in want stands for any text.
func matches(want, got string) bool {
	parts := strings.Split(want, "…")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(got)
}

// Every runnable example of the docs runs against the real stack and prints
// what the page says. The pages name make run's address (127.0.0.1:8000);
// the test's stack has its own, put in its place in commands and outputs.
func TestDocsExamples(t *testing.T) {
	s := MustStack(t)
	addr := "127.0.0.1:" + strconv.Itoa(s.Traefik.HTTPPort)
	local := strings.NewReplacer("127.0.0.1:8000", addr, "localhost:8000", addr)
	total := 0
	for _, path := range docPages(t) {
		examples := runnableExamples(t, path)
		if len(examples) == 0 {
			continue
		}
		total += len(examples)
		t.Run(rel(path), func(t *testing.T) {
			// One shell a page, so a page's examples share its variables; a marker
			// line before each command splits the output.
			const marker = "@@kurz-docs-example@@"
			var script strings.Builder
			script.WriteString("cd " + strconv.Quote(testenv.Root()) + "\n")
			for _, ex := range examples {
				script.WriteString("echo " + marker + "\n" + local.Replace(ex.command) + " 2>&1\n")
			}
			cmd := exec.Command("bash", "-c", script.String())
			cmd.Env = append(os.Environ(), "DATABASE_URL="+s.Postgres.URL("kurz"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the page's examples failed: %v\n%s", err, out)
			}
			got := strings.Split(string(out), marker+"\n")[1:]
			if len(got) != len(examples) {
				t.Fatalf("%d outputs for %d examples:\n%s", len(got), len(examples), out)
			}
			for i, ex := range examples {
				lines := strings.Split(strings.TrimSuffix(got[i], "\n"), "\n")
				if got[i] == "" {
					lines = nil
				}
				want := ex.want
				for len(want) > 0 && want[len(want)-1] == "" {
					want = want[:len(want)-1]
				}
				ok := len(lines) == len(want)
				for j := 0; ok && j < len(want); j++ {
					ok = matches(local.Replace(want[j]), strings.TrimRight(lines[j], " \r"))
				}
				if !ok {
					t.Errorf("%s:%d: $ %s\nprinted:\n%s\nthe page says:\n%s", ex.page, ex.line, ex.command, got[i], strings.Join(want, "\n"))
				}
			}
		})
	}
	if total == 0 {
		t.Fatal("no runnable examples in the docs")
	}
}
