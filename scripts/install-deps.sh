#!/usr/bin/env bash
# Installs the Debian packages kurz runs and tests against, when missing:
# Redis and PostgreSQL servers, wrk (benchmarks), pgbench (in postgresql-contrib),
# Node.js and npm (to build Traefik's dashboard); for the tests Chromium,
# Prometheus (promtool) and the network tools of the partition tests.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql postgresql-contrib)
command -v wrk >/dev/null || need+=(wrk)
command -v npm >/dev/null || need+=(nodejs npm) # Traefik's dashboard is built from its source
if [ "${KURZ_BROWSER_TESTS:-}" = 1 ]; then
  command -v chromium >/dev/null || need+=(chromium)
fi
# The partition tests' network namespaces and packet filters (e2e/partition).
if [ "${KURZ_BROWSER_TESTS:-}" = 1 ]; then
  command -v ip >/dev/null || need+=(iproute2)
  command -v iptables >/dev/null || need+=(iptables)
  command -v nsenter >/dev/null && command -v setpriv >/dev/null || need+=(util-linux)
fi
# Prometheus and promtool: the tests of the shipped rules and of make run's KURZ_PROMETHEUS=true.
if [ "${KURZ_BROWSER_TESTS:-}" = 1 ] || [ "${KURZ_PROMETHEUS:-}" = true ]; then
  command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "kurz needs these Debian packages: ${need[*]}" >&2
  echo "install them with: sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
