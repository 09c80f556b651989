#!/usr/bin/env bash
# Installs a freely licensed (CC0) country database in MaxMind's format from
# npm into .cache/geoip/, once, and prints its path. Tests only: kurz reads any
# .mmdb named by KURZ_GEOIP_DB; none is committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pkg=@ip-location-db/geo-whois-asn-country-mmdb
version=2.3.2026061719
dir="$root/.cache/geoip/$version"
db=$(find "$dir/node_modules/$pkg" -name 'geo-whois-asn-country.mmdb' 2>/dev/null | head -1 || true)
if [ -z "$db" ]; then
  mkdir -p "$dir"
  (cd "$dir" && npm install --no-audit --no-fund --no-save --loglevel=error "$pkg@$version" >&2)
  db=$(find "$dir/node_modules/$pkg" -name 'geo-whois-asn-country.mmdb' | head -1)
fi
[ -n "$db" ] || { echo "no .mmdb in $pkg@$version" >&2; exit 1; }
echo "$db"
