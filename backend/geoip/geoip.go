// Package geoip finds countries in a MaxMind-format database (GeoLite2
// Country, or any .mmdb with a country ISO code).
package geoip

import (
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// DB is an open database.
type DB struct {
	reader *maxminddb.Reader
}

// record reads both layouts: GeoLite2's country.iso_code and the
// country_code of ip-location-db's databases.
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	CountryCode string `maxminddb:"country_code"`
}

// Open opens the database at path and checks that it answers a lookup.
func Open(path string) (*DB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("KURZ_GEOIP_DB must name a MaxMind-format database (.mmdb) with countries: %w", err)
	}
	var rec record
	if err := r.Lookup(netip.MustParseAddr("8.8.8.8")).Decode(&rec); err != nil {
		r.Close()
		return nil, fmt.Errorf("KURZ_GEOIP_DB %s: a lookup failed: %w", path, err)
	}
	return &DB{reader: r}, nil
}

// Country is addr's ISO 3166-1 alpha-2 code, "" when the database has none.
func (db *DB) Country(addr netip.Addr) string {
	var rec record
	if err := db.reader.Lookup(addr).Decode(&rec); err != nil {
		return ""
	}
	if rec.Country.ISOCode != "" {
		return rec.Country.ISOCode
	}
	return rec.CountryCode
}

func (db *DB) Close() error { return db.reader.Close() }
