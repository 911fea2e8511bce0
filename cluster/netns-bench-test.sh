#!/usr/bin/env bash
# The distributed load test across hosts, with network namespaces as the hosts: a coordinator
# (`mesh bench fanout --agents …`, its broker and publisher) in one namespace and four bench
# agents (`mesh bench agent`) in four more, joined by a bridge in a namespace of its own
# (cluster/netns-lib.sh). The coordinator reaches the agents only over their network
# addresses; each agent runs its subscriber on its own host.
#
# The test (default): one run of 1 → 4 subscribers at a rate every path keeps up with (10k/s),
# mesh and raw libzmq, then checks of the
# JSON report: one row per agent with its node id, each agent in the namespace it was started
# in (the namespace it reports is the inode of /run/netns/NAME), received == sent (every event
# once, none lost, none twice) for every subscriber, results gathered over the control channel.
#
# --curve DIR: the fan-out curve instead (no checks beyond the run's own success): 1, 2, 4, 8
# and 16 subscribers spread over the four agents, mesh and raw, written to DIR/curve.json,
# DIR/curve.svg and DIR/curve.txt.
#
# Everything it creates is removed on exit, also on failure. Run with --help for the options.
set -u -o pipefail

readonly PREFIX=emnb
readonly SUBNET=10.232.0
readonly POLL=0.1
readonly AGENT_PORT=7700

usage() {
  cat <<'EOF2'
Usage: cluster/netns-bench-test.sh [--mesh PATH] [options]

Runs `mesh bench fanout --agents …` in one network namespace against four `mesh bench agent`s
in four others and checks the report: one row per agent with its node id and namespace,
received == sent on every subscriber, mesh and raw. Needs root, ip (iproute2) and jq. About
10 s with a release build.

Options:
  --mesh PATH       the mesh binary (default: $MESH_BINARY, else .build/release/mesh, else
                    .build/debug/mesh)
  --count N         events published in the test (default 20000)
  --rate R          events per second per publisher (default: 10k in the test, where every
                    event must arrive, so a rate the 2-core machine keeps up with; 5k for the
                    curve)
  --curve DIR       measure the fan-out curve instead and write it to DIR (curve.json,
                    curve.svg, curve.txt)
  --subscribers L   the curve's subscriber counts (default 1,2,4,8,16)
  --duration S      each curve run's seconds, warm-up included (default 10)
  --warmup S        each curve run's warm-up (default 2)
  --repeat N        runs of each kind per curve step (default 1)
  --keep-logs       keep the run's log directory and print its path
  -h, --help        this text

Exit status: 0 if every check passed, 1 if a check failed (named in the last line), 2 if the
script cannot run here (not root, a tool missing, bad option).
EOF2
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$script_dir/.." && pwd)
mesh=""
count=20000
curve=""
curve_subscribers=1,2,4,8,16
rate=""
curve_duration=10
curve_warmup=2
curve_repeat=1
keep_logs=0

die_usage() { echo "netns-bench-test: $*" >&2; echo "Try: cluster/netns-bench-test.sh --help" >&2; exit 2; }
need_value() { [ "$2" -ge 2 ] || die_usage "$1 needs a value"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --mesh) need_value "$1" $#; mesh=$2; shift 2 ;;
    --count) need_value "$1" $#; count=$2; shift 2 ;;
    --curve) need_value "$1" $#; curve=$2; shift 2 ;;
    --subscribers) need_value "$1" $#; curve_subscribers=$2; shift 2 ;;
    --rate) need_value "$1" $#; rate=$2; shift 2 ;;
    --duration) need_value "$1" $#; curve_duration=$2; shift 2 ;;
    --warmup) need_value "$1" $#; curve_warmup=$2; shift 2 ;;
    --repeat) need_value "$1" $#; curve_repeat=$2; shift 2 ;;
    --keep-logs) keep_logs=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die_usage "unknown argument: $1" ;;
  esac
done
[[ "$count" =~ ^[1-9][0-9]*$ ]] || die_usage "--count must be a positive whole number"

if [ -z "$mesh" ]; then
  if [ -n "${MESH_BINARY:-}" ]; then mesh=$MESH_BINARY
  elif [ -x "$repo/.build/release/mesh" ]; then mesh=$repo/.build/release/mesh
  else mesh=$repo/.build/debug/mesh
  fi
fi
[ "$(id -u)" = 0 ] || { echo "netns-bench-test: must run as root (network namespaces)" >&2; exit 2; }
for tool in ip jq stat; do
  command -v "$tool" >/dev/null || { echo "netns-bench-test: missing tool: $tool (apt-get install iproute2 jq coreutils)" >&2; exit 2; }
done
[ -x "$mesh" ] || { echo "netns-bench-test: no mesh binary at $mesh (swift build -c release, or --mesh PATH)" >&2; exit 2; }
mesh=$(cd "$(dirname "$mesh")" && pwd)/$(basename "$mesh")
if [ -n "$curve" ]; then mkdir -p "$curve" && curve=$(cd "$curve" && pwd) || die_usage "cannot create $curve"; fi
for variable in $(compgen -e | grep '^MESH_'); do unset "$variable"; done

SCRIPT_TAG=netns-bench-test
hosts=(coord a1 a2 a3 a4)
declare -A host_ip=([coord]=$SUBNET.1 [a1]=$SUBNET.11 [a2]=$SUBNET.12 [a3]=$SUBNET.13 [a4]=$SUBNET.14)
agents=(a1 a2 a3 a4)
# shellcheck source=cluster/netns-lib.sh
. "$script_dir/netns-lib.sh"


clean_stale
logs=$(mktemp -d "/tmp/$PREFIX-$$.XXXXXX")
make_network

# --- the agents --------------------------------------------------------------------------------

check "agents listening"
agent_list=""
for host in "${agents[@]}"; do
  ip netns exec "$(ns "$host")" "$mesh" bench agent --listen "tcp://${host_ip[$host]}:$AGENT_PORT" --name "$host" --log-level info \
    > "$logs/agent-$host.out" 2> "$logs/agent-$host.err" &
  agent_list+="${agent_list:+,}${host_ip[$host]}:$AGENT_PORT"
done
for host in "${agents[@]}"; do
  wait_until 10 "agent $host listening" grep -q "listening on tcp://${host_ip[$host]}:$AGENT_PORT" "$logs/agent-$host.out"
done
say "agents listening: $agent_list"

# --- the curve ---------------------------------------------------------------------------------

if [ -n "$curve" ]; then
  check "fan-out curve"
  curve_rate=${rate:-5k}
  say "curve: subscribers $curve_subscribers at $curve_rate per publisher, ${curve_duration} s (warm-up ${curve_warmup} s), repeat $curve_repeat"
  in_ns coord timeout 3600 "$mesh" bench fanout --agents "$agent_list" --subscribers "$curve_subscribers" --rate "$curve_rate" \
    --duration "$curve_duration" --warmup "$curve_warmup" --repeat "$curve_repeat" --raw \
    --json "$curve/curve.json" --svg "$curve/curve.svg" > "$curve/curve.txt" 2> "$logs/coordinator.err" \
    || fail "the curve run failed (exit $?): $(tail -n 3 "$logs/coordinator.err")"
  sed -n '/^curve/,$p' "$curve/curve.txt"
  say "curve written to $curve (curve.json, curve.svg, curve.txt)"
  exit 0
fi

# --- the test ----------------------------------------------------------------------------------

check "run through the agents"
report=$logs/report.json
in_ns coord timeout 300 "$mesh" bench fanout --agents "$agent_list" --subscribers 4 --count "$count" --rate "${rate:-10k}" --raw \
  --json "$report" > "$logs/coordinator.out" 2> "$logs/coordinator.err" \
  || fail "mesh bench fanout exited $?: $(tail -n 3 "$logs/coordinator.err")"
[ -s "$report" ] || fail "no report at $report"
grep -E '^(agent|sub-|headline|step)' "$logs/coordinator.out" | sed 's/^/  /'

check "agents in their namespaces"
[ "$(jq '.agents | length' "$report")" = 4 ] || fail "the report has $(jq '.agents | length' "$report") agents, not 4"
coordinator_ns="net:[$(stat -L -c %i "/run/netns/$(ns coord)")]"
for ((i = 0; i < 4; i++)); do
  host=${agents[$i]}
  expected="net:[$(stat -L -c %i "/run/netns/$(ns "$host")")]"
  got=$(jq -r ".agents[$i].info.networkNamespace" "$report")
  name=$(jq -r ".agents[$i].info.name" "$report")
  [ "$name" = "$host" ] || fail "agent $i is named '$name', not $host"
  [ "$got" = "$expected" ] || fail "agent $host reports namespace $got, but $(ns "$host") is $expected"
  [ "$got" != "$coordinator_ns" ] || fail "agent $host runs in the coordinator's namespace"
done
say "each agent reports the namespace it was started in (none the coordinator's, $coordinator_ns)"

for kind in mesh raw; do
  check "$kind run: received == sent on every agent"
  run=".steps[0].$kind[0]"
  sent=$(jq "$run.published | add // 0" "$report")
  [ "$sent" = "$count" ] || fail "the publisher sent $sent, not $count"
  [ "$(jq "$run.missing | length" "$report")" = 0 ] || fail "no result from $(jq -c "$run.missing" "$report")"
  [ "$(jq "$run.subscribers | length" "$report")" = 4 ] || fail "$(jq "$run.subscribers | length" "$report") subscriber rows, not 4"
  placed=$(jq -r "[$run.subscribers[].agent] | sort | join(\",\")" "$report")
  [ "$placed" = "a1,a2,a3,a4" ] || fail "the subscribers ran under agents '$placed', not one on each of a1..a4"
  bad=$(jq -r --argjson sent "$sent" "$run.subscribers[] | select(.distinct != \$sent or .received != \$sent or .lost != 0 or .duplicates != 0) | .node" "$report")
  [ -z "$bad" ] || fail "received != sent at $bad"
  jq -r "$run.subscribers[] | \"  $kind \\(.node) on \\(.agent): received \\(.received) of $sent, lost \\(.lost), dup \\(.duplicates), \\(.throughput | floor) events/s, p99 \\(.latencyMicroseconds.p99 | floor) µs\"" "$report"
done
say "every subscriber on every agent received every event once, mesh and raw"
