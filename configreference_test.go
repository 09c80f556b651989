package kurz_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/plugin"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md's generated part")

// The markers around the generated edge table in docs/configuration.md.
const (
	edgeBegin = "<!-- edge options: generated from plugin.Config's doc tags by make docs -->\n"
	edgeEnd   = "<!-- end of edge options -->\n"
)

// The edge's options in docs/configuration.md are plugin.Config's, with the
// defaults of CreateConfig and the variable traefik/dynamic/kurz.yml sets each from.
func TestConfigurationReference(t *testing.T) {
	const path = "docs/configuration.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("OKEdgeOptionsAreGenerated", func(t *testing.T) {
		testenv.MustMatchSection(t, path, edgeBegin, edgeEnd, edgeTable(t), *update)
	})
	t.Run("OKEveryVariableIsDocumented", func(t *testing.T) {
		for _, file := range []string{"traefik/dynamic/kurz.yml", "traefik/native/backend.yml", "cmd/kurz-stack/main.go", "docker-compose.yml", "docker-compose.https.yml"} {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range regexp.MustCompile(`KURZ_[A-Z0-9_]*[A-Z0-9]`).FindAllString(string(src), -1) {
				if !strings.Contains(string(doc), "`"+name+"`") {
					t.Errorf("%s reads %s, which %s does not document", file, name, path)
				}
			}
		}
	})
}

// edgeTable is the Markdown table of plugin.Config.
func edgeTable(tb testing.TB) string {
	tb.Helper()
	yml, err := os.ReadFile("traefik/dynamic/kurz.yml")
	if err != nil {
		tb.Fatal(err)
	}
	defaults := reflect.ValueOf(plugin.CreateConfig()).Elem()
	var b bytes.Buffer
	fmt.Fprintln(&b, "| Option | Default | Set from (kurz.yml) | Meaning |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	for i := 0; i < defaults.NumField(); i++ {
		f := defaults.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		meaning := f.Tag.Get("doc")
		if name == "" || meaning == "" {
			tb.Errorf("plugin.Config.%s needs a json name and a doc tag", f.Name)
		}
		def := ""
		if v := defaults.Field(i); !v.IsZero() {
			def = fmt.Sprintf("`%v`", v.Interface())
		}
		from := ""
		if m := regexp.MustCompile(`(?m)^\s*` + name + `:.*?env "(KURZ_[A-Z_]+)"`).FindStringSubmatch(string(yml)); m != nil {
			from = "`" + m[1] + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", name, def, from, meaning)
	}
	return b.String()
}
