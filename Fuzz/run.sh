#!/usr/bin/env bash
# Builds the EventWire libFuzzer target (swiftc -sanitize=fuzzer,address) and runs it.
#
# Usage: Fuzz/run.sh [SECONDS] [-- extra libFuzzer flags]
#   SECONDS  how long to fuzz (default 60); -runs=N among the extra flags bounds executions.
# The corpus starts from the golden vectors (Tests/EventWireTests/Vectors/*.msgpack) and the
# regression vectors (Tests/EventWireTests/FuzzRegressions/*); new inputs go to
# Fuzz/.corpus (not committed). A crash leaves its input in Fuzz/crashes/ and the script exits
# non-zero: copy that file into Tests/EventWireTests/FuzzRegressions/ to keep it as a regression
# vector (the Swift tests decode every file there).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
seconds="${1:-60}"
shift || true
[ "${1:-}" = "--" ] && shift

"${SWIFT:-swift}" build -c release --product EventWireFuzzer -Xswiftc -sanitize=fuzzer,address >&2
binary="$("${SWIFT:-swift}" build -c release --show-bin-path)/EventWireFuzzer"

# Swift's own crash backtracer and AddressSanitizer get in each other's way; libFuzzer reports.
export SWIFT_BACKTRACE=enable=no
mkdir -p .corpus crashes
seeds=(../Tests/EventWireTests/Vectors)
[ -d ../Tests/EventWireTests/FuzzRegressions ] && seeds+=(../Tests/EventWireTests/FuzzRegressions)
cp -n ../Tests/EventWireTests/Vectors/*.msgpack .corpus/ 2>/dev/null || true

exec "$binary" .corpus "${seeds[@]}" \
    -max_total_time="$seconds" -rss_limit_mb=512 -malloc_limit_mb=64 -max_len=4096 \
    -artifact_prefix=crashes/ -print_final_stats=1 "$@"
