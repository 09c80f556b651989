#!/usr/bin/env bash
# Runs the edge plugin's tests under Yaegi v0.16.1 (pinned in go.mod), the
# interpreter Traefik loads it with, from a GOPATH laid out as Traefik's plugins-local.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
gopath=$(mktemp -d)
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src/github.com/kurzlink"
ln -s "$root" "$gopath/src/github.com/kurzlink/kurz"
cd "$gopath/src/github.com/kurzlink/kurz"
GOPATH="$gopath" go -C "$root" tool yaegi test -unrestricted "$@" github.com/kurzlink/kurz/plugin
