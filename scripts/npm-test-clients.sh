#!/usr/bin/env bash
# Installs the other shorteners' real clients that the tests drive (pinned,
# from npm) into .cache/npm-clients/, once, and prints that folder. Tests
# only: nothing of them is committed or shipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
packages=(@shlinkio/shlink-js-sdk@3.2.1)
dir="$root/.cache/npm-clients/$(echo "${packages[*]}" | sha256sum | cut -c1-12)"
if [ ! -f "$dir/.installed" ]; then
  mkdir -p "$dir"
  (cd "$dir" && echo '{"private":true,"type":"module"}' > package.json &&
    npm install --no-audit --no-fund --loglevel=error "${packages[@]}" >&2)
  touch "$dir/.installed"
fi
echo "$dir"
