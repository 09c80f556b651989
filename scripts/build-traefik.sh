#!/usr/bin/env bash
# Builds the pinned Traefik from traefik/go.mod into bin/, once per pin, with
# its dashboard: the module has the dashboard's source (webui/) but not its
# built assets, so they are built with npm into a writable copy of the module,
# and Traefik is built against that copy (a replace directive). Without npm,
# or if the dashboard does not build, Traefik is built without it, and this
# says so. Cached: bin/traefik-<pin>+ui (with) or bin/traefik-<pin> (without);
# npm's files and the source copy stay in .cache/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(awk '$1 == "github.com/traefik/traefik/v3" {print $2; exit}' "$root/traefik/go.mod")
with_ui="$root/bin/traefik-$version+ui"
plain="$root/bin/traefik-$version"
mkdir -p "$root/bin"

use() { ln -sfn "$(basename "$1")" "$root/bin/traefik"; echo "$1"; }

if [ -x "$with_ui" ]; then use "$with_ui"; exit 0; fi

ldflags="-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$version"

build_plain() {
  if [ ! -x "$plain" ]; then
    echo "building Traefik $version into $plain (cold build: 5-15 minutes)" >&2
    (cd "$root/traefik" && go build -trimpath -o "$plain.tmp" -ldflags "$ldflags" github.com/traefik/traefik/v3/cmd/traefik)
    mv "$plain.tmp" "$plain"
  fi
  use "$plain"
}

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "Traefik's dashboard needs Node.js and npm (apt-get install nodejs npm): building Traefik without it;" >&2
  echo "http://127.0.0.1:8080/dashboard/ will answer an error, the API under /api/ works." >&2
  build_plain
  exit 0
fi

cache="$root/.cache/traefik-$version"
src="$cache/src"
mkdir -p "$cache"
if [ ! -f "$src/go.mod" ]; then
  module=$(cd "$root/traefik" && go mod download -json github.com/traefik/traefik/v3 | awk -F'"' '$2 == "Dir" {print $4}')
  rm -rf "$src.tmp"
  cp -r "$module" "$src.tmp"
  chmod -R u+w "$src.tmp"
  mv "$src.tmp" "$src"
fi

if [ ! -f "$src/webui/static/index.html" ]; then
  echo "building Traefik $version's dashboard with npm (a few minutes, once)" >&2
  # HUSKY_SKIP_INSTALL/HUSKY: the webui's husky would install git hooks into
  # the repository it finds above it, which is kurz's.
  if ! (cd "$src/webui" && export HUSKY_SKIP_INSTALL=1 HUSKY=0 &&
    npm install --legacy-peer-deps --no-audit --no-fund --loglevel=error >&2 && npx vite build >&2); then
    echo "Traefik's dashboard did not build (see above): building Traefik without it." >&2
    build_plain
    exit 0
  fi
fi

# A module of its own that builds Traefik from the copy with the dashboard.
build="$cache/build"
mkdir -p "$build"
cp "$root/traefik/go.mod" "$root/traefik/go.sum" "$build/"
(cd "$build" && go mod edit -module kurz-traefik-ui -replace "github.com/traefik/traefik/v3=$src")
echo "building Traefik $version with its dashboard into $with_ui (cold build: 5-15 minutes)" >&2
(cd "$build" && go build -mod=mod -trimpath -o "$with_ui.tmp" -ldflags "$ldflags" github.com/traefik/traefik/v3/cmd/traefik)
mv "$with_ui.tmp" "$with_ui"
use "$with_ui"
