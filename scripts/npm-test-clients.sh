#!/usr/bin/env bash
# Installs the other shorteners' real clients that the tests drive (pinned,
# from npm) into .cache/npm-clients/, once, bundles Shlink's web component
# for the browser (e2e/testdata/shlink/web-component.jsx, with esbuild; its
# styles with Tailwind), and
# prints that folder. Tests only: nothing of them is committed or shipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
packages=(
  @shlinkio/shlink-js-sdk@3.2.1
  @shlinkio/shlink-web-component@0.18.0 @shlinkio/shlink-frontend-kit@1.4.0
  react@19.3.1 react-dom@19.3.1 react-redux@9.3.1 react-router@7.18.7 @reduxjs/toolkit@2.16.0
  @fortawesome/fontawesome-svg-core@7.3.1 @fortawesome/free-brands-svg-icons@7.3.1 @fortawesome/free-regular-svg-icons@7.3.1
  @fortawesome/free-solid-svg-icons@7.3.1 @fortawesome/react-fontawesome@3.5.0 @fortawesome/fontawesome-common-types@7.3.1
  @fortawesome/fontawesome-free@7.3.1 tailwindcss@4.3.5 @tailwindcss/cli@4.3.5 esbuild@0.28.2
)
entry="$root/e2e/testdata/shlink/web-component.jsx"
styles="$root/e2e/testdata/shlink/web-component.css"
dir="$root/.cache/npm-clients/$( (echo "${packages[*]}"; cat "$entry" "$styles") | sha256sum | cut -c1-12)"
if [ ! -f "$dir/.installed" ]; then
  mkdir -p "$dir"
  (cd "$dir" && echo '{"private":true,"type":"module"}' > package.json &&
    npm install --no-audit --no-fund --loglevel=error "${packages[@]}" >&2 &&
    cp "$entry" web-component.jsx &&
    npx esbuild web-component.jsx --bundle --format=esm --jsx=automatic --loader:.woff2=file --loader:.woff=file --loader:.ttf=file \
      --loader:.png=file --loader:.svg=file --define:process.env.NODE_ENV='"production"' --outdir=dist --log-level=warning >&2 &&
    cp "$styles" web-component.css && npx tailwindcss -i web-component.css -o dist/web-component.css >&2 2>/dev/null)
  touch "$dir/.installed"
fi
echo "$dir"
