#!/usr/bin/env bash
# Builds the EventMesh image without a container registry (what `make image` runs):
#
#   1. `mesh` in release on this host, with the Swift runtime linked in statically
#      (--static-swift-stdlib), in a build folder of its own (.build-static);
#   2. a minimal Debian bookworm root with libzmq5 (debootstrap --variant=minbase), made once
#      and cached outside the clone (ROOTFS_CACHE), then `docker import`ed as eventmesh-base:bookworm;
#   3. cluster/Dockerfile.offline on that base: the binary and a non-root user, tagged
#      eventmesh:<git short commit> (with -dirty when the tree has changes) and eventmesh:latest.
#
# Needs: swift, a running Docker engine, and for the first run root, debootstrap and a Debian
# mirror (DEBIAN_MIRROR). The host must run Debian bookworm or a system with the same or an
# older glibc, since the binary is linked against the host's. With internet access,
# cluster/Dockerfile builds the same image in Docker instead.
#
# Variables: IMAGE_NAME (default eventmesh), ROOTFS_CACHE (default
# /var/cache/eventmesh/rootfs-bookworm.tar), DEBIAN_MIRROR (default http://deb.debian.org/debian),
# SWIFT (default swift).
set -euo pipefail

cd "$(dirname "$0")/.."
IMAGE_NAME=${IMAGE_NAME:-eventmesh}
BASE_IMAGE=eventmesh-base:bookworm
ROOTFS_CACHE=${ROOTFS_CACHE:-/var/cache/eventmesh/rootfs-bookworm.tar}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SWIFT=${SWIFT:-swift}
started=$(date +%s)

say() { echo "== $*"; }
fail() { echo "error: $*" >&2; exit 1; }

command -v "$SWIFT" >/dev/null || fail "'$SWIFT' not found; install Swift 6 and put it on PATH"
command -v docker >/dev/null || fail "docker not found (Debian: apt-get install docker.io)"
docker info >/dev/null 2>&1 || fail "no Docker engine answers (start dockerd, or check DOCKER_HOST)"

# 1. The binary.
say "building mesh (release, static Swift runtime, .build-static)"
"$SWIFT" build -c release --static-swift-stdlib --scratch-path .build-static --product mesh
binary="$("$SWIFT" build -c release --static-swift-stdlib --scratch-path .build-static --show-bin-path)/mesh"
[ -x "$binary" ] || fail "$binary was not built"

# 2. The base: a cached debootstrap root, imported when the engine lacks it or it changed.
if [ ! -s "$ROOTFS_CACHE" ]; then
  [ "$(id -u)" = 0 ] || fail "making the Debian root needs root (debootstrap); run as root once, or set ROOTFS_CACHE to a tar made before"
  command -v debootstrap >/dev/null || fail "debootstrap not found (apt-get install debootstrap)"
  say "making a minimal Debian bookworm root with libzmq5 (debootstrap; cached in $ROOTFS_CACHE)"
  mkdir -p "$(dirname "$ROOTFS_CACHE")"
  rootfs=$(mktemp -d "$(dirname "$ROOTFS_CACHE")/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs" "$ROOTFS_CACHE.partial"' EXIT
  debootstrap --variant=minbase --include=libzmq5 bookworm "$rootfs" "$DEBIAN_MIRROR" >/dev/null
  # What a slim image leaves out: package lists and caches, documentation (but the copyright
  # files), manual pages, translations.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
         "$rootfs"/var/log/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
  find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  tar --numeric-owner -C "$rootfs" -cf "$ROOTFS_CACHE.partial" .
  mv "$ROOTFS_CACHE.partial" "$ROOTFS_CACHE"
  rm -rf "$rootfs"
  trap - EXIT
else
  say "using the cached Debian root $ROOTFS_CACHE"
fi
rootfs_sum=$(sha256sum "$ROOTFS_CACHE" | cut -c1-16)
if [ "$(docker image inspect -f '{{ index .Config.Labels "org.eventmesh.rootfs" }}' "$BASE_IMAGE" 2>/dev/null)" != "$rootfs_sum" ]; then
  say "importing $BASE_IMAGE"
  docker import --change "LABEL org.eventmesh.rootfs=$rootfs_sum" --change 'CMD ["/bin/bash"]' \
    --message "debootstrap --variant=minbase --include=libzmq5 bookworm" "$ROOTFS_CACHE" "$BASE_IMAGE" >/dev/null
else
  say "$BASE_IMAGE is up to date"
fi

# 3. The image: a build context holding only the binary.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit-dirty"; fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/mesh"
strip "$context/mesh" 2>/dev/null || true
say "building $IMAGE_NAME:$commit"
docker build -q -f cluster/Dockerfile.offline \
  --build-arg BASE="$BASE_IMAGE" --build-arg REVISION="$revision" \
  -t "$IMAGE_NAME:$commit" -t "$IMAGE_NAME:latest" "$context" >/dev/null

# The binary must start in the image (its shared libraries are the image's).
docker run --rm --network none "$IMAGE_NAME:latest" --version >/dev/null \
  || fail "mesh does not start in $IMAGE_NAME:latest"

size=$(docker image inspect -f '{{ .Size }}' "$IMAGE_NAME:latest")
base_size=$(docker image inspect -f '{{ .Size }}' "$BASE_IMAGE")
echo "image $IMAGE_NAME:$commit (also $IMAGE_NAME:latest): $((size / 1000000)) MB" \
  "(base $((base_size / 1000000)) MB + mesh $(( (size - base_size) / 1000000 )) MB); built in $(( $(date +%s) - started )) s"
