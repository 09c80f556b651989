package testenv

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GeoIPDB is a country database in MaxMind's format for tests: a CC0
// database from npm, installed once into .cache/geoip by scripts/geoip-test-db.sh.
func GeoIPDB(tb testing.TB) string {
	tb.Helper()
	out, err := exec.Command(filepath.Join(Root(), "scripts", "geoip-test-db.sh")).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			err = &scriptError{err, string(ee.Stderr)}
		}
	}
	Need(tb, "a country database from npm (scripts/geoip-test-db.sh)", err)
	return strings.TrimSpace(string(out))
}

// scriptError is a script's failure with what it wrote on standard error.
type scriptError struct {
	err    error
	stderr string
}

func (e *scriptError) Error() string { return e.err.Error() + ": " + e.stderr }
