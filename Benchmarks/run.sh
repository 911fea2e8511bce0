#!/usr/bin/env bash
# Runs the EventBus benchmark suite (package-benchmark, release build) and prints per-event
# figures: wall-clock time, throughput and heap allocations for every workload of
# EventBusWorkloads, the baseline included.
#
# Usage: Benchmarks/run.sh [ARGS...]
#   With no ARGS it runs every benchmark (`swift package benchmark run --no-progress`).
#   ARGS are passed to `swift package benchmark` as they are, e.g.
#     Benchmarks/run.sh run --filter 'publish_1_subscriber$'
#     Benchmarks/run.sh list
#
# It builds in Benchmarks/.build (the root package is built there too, as a path dependency),
# so it never waits on, or invalidates, a build of the root package. Set SWIFT to use another
# `swift` driver. The exit status is the benchmark tool's.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
if [ "$#" -eq 0 ]; then
    set -- run --no-progress
fi
exec "${SWIFT:-swift}" package benchmark "$@"
