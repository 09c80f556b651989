#!/usr/bin/env bash
# Builds the pinned docker compose CLI from docker/compose/go.mod into bin/,
# once per pin (about 2-4 minutes cold), and prints its path. The compose test
# runs it as Docker's CLI plugin, so `docker compose …` is what it types.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(awk '$1 == "github.com/docker/compose/v2" {print $2; exit}' "$root/docker/compose/go.mod")
[ -n "$version" ] || { echo "docker/compose/go.mod names no github.com/docker/compose/v2" >&2; exit 1; }
out="$root/bin/docker-compose-$version"
if [ ! -x "$out" ]; then
  echo "building docker compose $version into $out (cold build: 2-4 minutes)" >&2
  mkdir -p "$root/bin"
  (cd "$root/docker/compose" && go build -trimpath -o "$out.tmp" \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$version" github.com/docker/compose/v2/cmd)
  mv "$out.tmp" "$out"
fi
echo "$out"
