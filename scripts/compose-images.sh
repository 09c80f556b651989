#!/usr/bin/env bash
# Builds, without any image registry, a local image for every service of
# docker-compose.yml and writes the override file that swaps them in (the
# user's compose file stays as it is). Prints the override file's path.
#   backend       static build of ./backend/cmd/kurz on an empty base (rootfs
#                 with CA certificates, time zones and an unprivileged user)
#   traefik       the pinned build from bin/traefik (scripts/build-traefik.sh)
#   redis, postgres, socket-proxy
#                 on a Debian root filesystem made with debootstrap from
#                 Debian's packages: cached as a tarball in .cache/compose/ and
#                 as an image in Docker, rebuilt only when the package list changes
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/compose"
images="$root/docker/images"
mkdir -p "$cache"

suite=bookworm
mirror=${KURZ_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=ca-certificates,tzdata,redis-server,postgresql-15,haproxy
rootfs_version=1 # raise when the root filesystem is made differently below
key=$(printf '%s %s %s' "$suite" "$packages" "$rootfs_version" | sha256sum | cut -c1-12)
base="kurz-local/debian:$suite-$key"

if ! docker image inspect "$base" >/dev/null 2>&1; then
  tarball="$cache/debian-$suite-$key.tar"
  if [ ! -f "$tarball" ]; then
    echo "debootstrap: Debian $suite with $packages (about a minute, once)" >&2
    rootfs="$cache/rootfs.tmp"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
      { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
    # The package's own cluster is not used: the postgres image runs initdb itself.
    rm -rf "$rootfs"/var/lib/postgresql/15 "$rootfs"/etc/postgresql/15 \
      "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
    tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'LABEL kurz.local-image=true' "$tarball" "$base" >/dev/null
fi

build() { # tag dockerfile context; the output only when it fails (Docker 20.10's builder warns on every build)
  local out
  out=$(docker build -q --build-arg "BASE=$base" -t "$1" -f "$2" "$3" 2>&1) || { echo "$out" >&2; exit 1; }
}
build kurz-local/redis:test "$images/redis.Dockerfile" "$images"
build kurz-local/postgres:test "$images/postgres.Dockerfile" "$images"
build kurz-local/socket-proxy:test "$images/socket-proxy.Dockerfile" "$images"

ctx="$cache/traefik-context"
mkdir -p "$ctx"
traefik=$(readlink -f "$root/bin/traefik")
cmp -s "$traefik" "$ctx/traefik" 2>/dev/null || cp "$traefik" "$ctx/traefik"
build kurz-local/traefik:test "$images/traefik.Dockerfile" "$ctx"

# The backend's root filesystem: the binary, and from the Debian root
# filesystem the CA certificates and time zones; nonroot is distroless's uid.
ctx="$cache/backend-context"
rm -rf "$ctx" && mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/usr/share" "$ctx/rootfs/tmp"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$ctx/rootfs/kurz" ./backend/cmd/kurz)
cid=$(docker create "$base" /bin/true)
docker cp "$cid:/etc/ssl/certs/ca-certificates.crt" "$ctx/rootfs/etc/ssl/certs/"
docker cp "$cid:/usr/share/zoneinfo" "$ctx/rootfs/usr/share/"
docker rm "$cid" >/dev/null
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$ctx/rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$ctx/rootfs/etc/group"
chmod 1777 "$ctx/rootfs/tmp"
build kurz-local/backend:test "$images/backend.Dockerfile" "$ctx"

# What the builds above replaced (the backend's image changes every run).
docker image prune -f --filter label=kurz.local-image=true >/dev/null

override="$cache/images.override.yml"
cat >"$override" <<YAML
# Written by scripts/compose-images.sh: the locally built images in place of
# the registry's (docker compose -f docker-compose.yml -f this file).
services:
  traefik: {image: kurz-local/traefik:test, pull_policy: never}
  socket-proxy: {image: kurz-local/socket-proxy:test, pull_policy: never}
  backend: {image: kurz-local/backend:test, pull_policy: never}
  redis: {image: kurz-local/redis:test, pull_policy: never}
  postgres: {image: kurz-local/postgres:test, pull_policy: never}
YAML
echo "$override"
