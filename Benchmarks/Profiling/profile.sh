#!/usr/bin/env bash
# Counts, per event, what one workload of EventBusWorkloads costs: instructions, heap
# allocations (and which functions make them), reference-counting calls and exclusivity
# checks. It runs the EventBusProfile driver twice under valgrind's callgrind (SMALL and LARGE
# events) and subtracts, so fixed costs drop out and the counts are exact.
#
# Usage: Benchmarks/Profiling/profile.sh WORKLOAD [SMALL] [LARGE] [CALLEE,...]
#   WORKLOAD  a name from `Benchmarks/.build/release/EventBusProfile` (run without arguments)
#   SMALL, LARGE  event counts of the two runs (default 20000 and 70000)
#   CALLEE,...  functions whose callers to list with their calls per event, as the allocators'
#               are (e.g. swift_retain,swift_release)
# Needs valgrind and python3. Profiles are kept in Benchmarks/.build/profiles/.
# For where the time goes, sample the same driver with perf:
#   perf record -F 4999 -g -o /tmp/perf.data Benchmarks/.build/release/EventBusProfile WORKLOAD 10000000
#   perf report -i /tmp/perf.data --children --stdio -g none | swift demangle --simplified
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
workload="${1:?usage: Benchmarks/Profiling/profile.sh WORKLOAD [SMALL] [LARGE]}"
small="${2:-20000}"
large="${3:-70000}"

"${SWIFT:-swift}" build -c release --product EventBusProfile >&2
driver=".build/release/EventBusProfile"
out=".build/profiles"
mkdir -p "$out"
for events in "$small" "$large"; do
    valgrind --tool=callgrind --callgrind-out-file="$out/$workload.$events.callgrind" \
        "$driver" "$workload" "$events" >"$out/$workload.$events.log" 2>&1
done
python3 Profiling/callcounts.py \
    "$out/$workload.$small.callgrind" "$small" "$out/$workload.$large.callgrind" "$large" ${4:+"$4"}
