package main

import (
	"context"
	"strings"
	"testing"

	"github.com/kurzlink/kurz/internal/testenv"
)

// A country database that cannot be read is refused at start, saying which setting.
func TestRefusesUnreadableGeoIPDB(t *testing.T) {
	pg, rd := testenv.SharedPostgres(t), testenv.NewRedis(t)
	env := map[string]string{"DATABASE_URL": pg.NewDatabase(t), "REDIS_URL": rd.URL(), "KURZ_LISTEN_ADDR": "127.0.0.1:0",
		"KURZ_METRICS_ADDR": "off", "KURZ_CODE_SECRET": testCodeSecret, "KURZ_GEOIP_DB": "/nonexistent/country.mmdb"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "KURZ_GEOIP_DB must name a MaxMind-format database") {
		t.Errorf("run with an unreadable KURZ_GEOIP_DB = %v, want a refusal naming the setting", err)
	}
}
