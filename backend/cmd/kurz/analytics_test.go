package main

import (
	"strings"
	"testing"

	"github.com/kurzlink/kurz/internal/testenv"
)

// A country database that cannot be read is refused at start, saying which setting.
func TestRefusesUnreadableGeoIPDB(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	err := runRefused(t, pg.NewDatabase(t), rd.URL(), map[string]string{"KURZ_GEOIP_DB": "/nonexistent/country.mmdb"})
	if err == nil || !strings.Contains(err.Error(), "KURZ_GEOIP_DB must name a MaxMind-format database") {
		t.Errorf("run with an unreadable KURZ_GEOIP_DB = %v, want a refusal naming the setting", err)
	}
}
