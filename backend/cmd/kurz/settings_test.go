package main

import (
	"bytes"
	"context"
	"flag"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kurzlink/kurz/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md's generated part")

// docsConfiguration is the configuration reference; its backend table is written from settings.
const docsConfiguration = "../../../docs/configuration.md"

// The markers around the generated backend table in docs/configuration.md.
const (
	settingsBegin = "<!-- backend settings: generated from backend/cmd/kurz/settings.go by make docs -->\n"
	settingsEnd   = "<!-- end of backend settings -->\n"
)

func TestSettings(t *testing.T) {
	t.Run("OKDefaults", func(t *testing.T) {
		env := map[string]string{"KURZ_CODE_SECRET": testCodeSecret}
		c, err := loadConfig(func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("loadConfig with the defaults: %v", err)
		}
		if got, want := c.ListenAddr, defaultListenAddr; got != want {
			t.Errorf("ListenAddr = %q, want %q", got, want)
		}
	})
	t.Run("OKEveryNameIsASetting", func(t *testing.T) {
		var asked []string
		loadConfig(func(k string) string { asked = append(asked, k); return "" })
		var names []string
		for _, s := range settings {
			names = append(names, s.Name)
		}
		got, want := sorted(asked), sorted(names)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("loadConfig reads %v,\nsettings lists %v", got, want)
		}
	})
	t.Run("OKHelpListsEverySetting", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"kurz", "--help"}, func(string) string { return "" }, &out); err != nil {
			t.Fatal(err)
		}
		for _, s := range settings {
			if !strings.Contains(out.String(), s.Name) || !strings.Contains(out.String(), s.Meaning) {
				t.Errorf("kurz --help lacks %s or its meaning", s.Name)
			}
		}
	})
	t.Run("OKDocsAreGenerated", func(t *testing.T) {
		var table bytes.Buffer
		writeSettingsMarkdown(&table)
		testenv.MustMatchSection(t, docsConfiguration, settingsBegin, settingsEnd, table.String(), *update)
	})
}

// sorted returns the distinct values of s in order.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
