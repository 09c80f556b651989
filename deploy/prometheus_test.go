package deploy_test

import (
	"os"
	"os/exec"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

// The shipped rules are valid, and their tests on synthetic series pass in
// Debian's promtool (the prometheus package).
func TestPrometheusRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool is required in CI (Debian's prometheus package): %v", err)
		}
		t.Skipf("promtool not installed (apt-get install prometheus): %v", err)
	}
	for _, args := range [][]string{{"check", "rules", "kurz.rules.yml"}, {"test", "rules", "kurz.rules.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// With prometheusRule.enabled the chart carries the shipped rules unchanged.
func TestChartCarriesThePrometheusRules(t *testing.T) {
	r := MustRender(t, "testdata/prometheus-rule.yaml")
	rules := r.all("PrometheusRule")
	if len(rules) != 1 {
		t.Fatalf("%d PrometheusRules, want 1", len(rules))
	}
	src, err := os.ReadFile("prometheus/kurz.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var want ruleFile
	if err := yaml.UnmarshalStrict(src, &want); err != nil {
		t.Fatal(err)
	}
	got := rules[0].(*prometheusRule)
	if !reflect.DeepEqual(got.Spec, want) {
		t.Errorf("the PrometheusRule's groups are not kurz.rules.yml's")
	}
	if got.Labels["release"] != "prometheus" {
		t.Errorf("labels = %v, want the values' release=prometheus among them", got.Labels)
	}
	if len(want.Groups) != 2 || len(want.Groups[1].Rules) != 8 {
		t.Errorf("%d groups, want the recording rules and 8 alerts", len(want.Groups))
	}
}
