#!/usr/bin/env bash
# Instructions to make and free one array or dictionary, by the way it is made (the figures
# behind MessagePackWriter's shared initial buffer and docs/BENCHMARKS.md's dictionary cost):
# compiles AllocationProbe/main.swift with -O, runs each mode under callgrind for 10 000 and
# 20 000 iterations and prints the difference per iteration.
#
# Usage: Benchmarks/Profiling/allocation-probe.sh   (needs valgrind)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"${SWIFTC:-swiftc}" -O AllocationProbe/main.swift -o "$work/probe"
count() {
    valgrind --tool=callgrind --callgrind-out-file="$work/out" "$work/probe" "$1" "$2" 2>&1 |
        awk '/Collected/ { gsub(",", "", $4); print $4 }'
}
for mode in repeating uninitialized copy-on-write reserve dictionary; do
    small=$(count "$mode" 10000)
    large=$(count "$mode" 20000)
    echo "$mode: $(( (large - small) / 10000 )) instructions per iteration"
done
