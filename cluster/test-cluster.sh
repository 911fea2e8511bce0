#!/usr/bin/env bash
# The cluster test tier (`make test-cluster`, part of `make test`): builds the image offline,
# runs the compose tests (cluster/compose-test.sh, then its --dedup-off check, which must see
# the exactly-once check fail without dedup; cluster/compose-bench-test.sh, the profile bench of
# docker-compose.yml end to end) and the multi-host tests in network namespaces
# (cluster/netns-test.sh, and the distributed load test cluster/netns-bench-test.sh, with the
# image's static mesh).
#
# It runs when it can: as root, with a Docker engine answering and docker-compose, debootstrap,
# ip, tc, iptables and jq installed. When it cannot, it says why and exits 0 (skipped), unless
# MESH_REQUIRE_CLUSTER=1 (what .ci/run sets): then it fails, so a tier that cannot run never
# passes silently. `.ci/run` installs the packages and starts the engine (cluster/dockerd.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
missing=()
[ "$(id -u)" = 0 ] || missing+=("root")
for tool in docker docker-compose debootstrap ip tc iptables jq python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if command -v docker >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
    missing+=("a running Docker engine (cluster/dockerd.sh start)")
fi
if [ "${#missing[@]}" -gt 0 ]; then
    message="the cluster tests cannot run here; missing: $(IFS=,; echo "${missing[*]}" | sed 's/,/, /g')"
    if [ "${MESH_REQUIRE_CLUSTER:-0}" = 1 ]; then
        echo "error: $message" >&2
        exit 1
    fi
    echo "== SKIPPED: $message (Debian: apt-get install docker.io docker-compose debootstrap iproute2 iptables jq; then cluster/dockerd.sh start)"
    exit 0
fi

echo "== cluster tier: the image (cluster/build-image.sh)"
image_started=$SECONDS
cluster/build-image.sh
echo "== image built in $((SECONDS - image_started)) s"

echo "== cluster tier: compose tests (cluster/compose-test.sh)"
cluster/compose-test.sh
echo "== cluster tier: without dedup the exactly-once check must fail (cluster/compose-test.sh --dedup-off)"
cluster/compose-test.sh --dedup-off
echo "== cluster tier: the bench profile, subscribers in four agent containers (cluster/compose-bench-test.sh)"
cluster/compose-bench-test.sh

static_mesh="$(swift build -c release --static-swift-stdlib --scratch-path .build-static --show-bin-path)/mesh"
echo "== cluster tier: multi-host tests in network namespaces (cluster/netns-test.sh)"
cluster/netns-test.sh --mesh "$static_mesh"
echo "== cluster tier: the distributed load test, four agents in namespaces (cluster/netns-bench-test.sh)"
cluster/netns-bench-test.sh --mesh "$static_mesh"

echo "== cluster tier passed in $((SECONDS - started)) s"
