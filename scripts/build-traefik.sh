#!/usr/bin/env bash
# Builds the pinned Traefik from traefik/go.mod into bin/, once per pin (a cold build takes ~15 min).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(awk '$1 == "github.com/traefik/traefik/v3" {print $2; exit}' "$root/traefik/go.mod")
out="$root/bin/traefik-$version"
if [ -x "$out" ]; then echo "$out"; exit 0; fi
mkdir -p "$root/bin"
echo "building Traefik $version into $out (cold build: ~15 minutes)" >&2
cd "$root/traefik"
go build -trimpath -o "$out.tmp" \
  -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$version" \
  github.com/traefik/traefik/v3/cmd/traefik
mv "$out.tmp" "$out"
ln -sfn "$(basename "$out")" "$root/bin/traefik"
echo "$out"
