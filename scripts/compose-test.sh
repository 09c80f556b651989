#!/usr/bin/env bash
# make compose-test: runs docker-compose.yml for real (e2e/compose_stack_test.go).
# Installs docker.io when root and missing, starts dockerd if none runs (and
# stops it again), builds the compose CLI and the local images, then runs the
# test with the compose CLI as Docker's CLI plugin. On a laptop without Docker
# (and not root) it says so and skips; with CI=true that is a failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

skip() {
  if [ "${CI:-}" = true ]; then echo "compose-test: $1" >&2; exit 1; fi
  echo "compose-test: skipped: $1" >&2
  exit 0
}

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  [ "$(id -u)" -eq 0 ] || skip "needs Docker and debootstrap: sudo apt-get install -y docker.io debootstrap"
  echo "installing docker.io and debootstrap" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
fi

log="$root/.state/dockerd.log"
mkdir -p "$root/.state"
started=
if ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || skip "no Docker engine answers, and starting one needs root"
  echo "starting dockerd (log: $log)" >&2
  dockerd >"$log" 2>&1 &
  started=$!
  trap 'kill "$started" 2>/dev/null; wait "$started" 2>/dev/null || true' EXIT
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -20 "$log" >&2; exit 1; }
fi

compose=$(scripts/build-compose.sh)
scripts/build-traefik.sh >/dev/null
override=$(scripts/compose-images.sh)

# The compose CLI as a plugin of a Docker configuration of the test's own.
export DOCKER_CONFIG="$root/.state/docker-config"
mkdir -p "$DOCKER_CONFIG/cli-plugins"
ln -sfn "$compose" "$DOCKER_CONFIG/cli-plugins/docker-compose"
docker compose version >&2

KURZ_COMPOSE_OVERRIDE="$override" go test -tags compose -count=1 -timeout 15m -run "${KURZ_COMPOSE_RUN:-^TestComposeStack$}" -v ./e2e/ 2>&1 |
  grep -Ev '^=== (RUN|PAUSE|CONT)'
