#!/usr/bin/env bash
# Cluster test of the profile `bench` of docker-compose.yml: a load test whose subscribers run in
# four agent containers. Runs it end to end the way the file's header shows, under a project name
# of its own (meshbench<pid>t<time>) and with a results folder of its own (MESH_BENCH_RESULTS, a
# temporary folder); bench projects and results folders left by an earlier run that no longer
# runs are removed first, and a trap takes this one down (`down -v`) and removes its results
# folder on exit.
#
#   docker-compose -p PROJECT --profile bench up --exit-code-from bench bench
#
# with MESH_BENCH_SUBSCRIBERS=4, MESH_BENCH_COUNT=COUNT, MESH_BENCH_RATE=RATE and
# MESH_BENCH_RAW=--raw (a mesh run and a raw libzmq run). It must exit 0, and the report must show:
#
#   1. one step with a mesh run and a raw run (plan.raw true), each published COUNT events from
#      its one publisher and has no missing worker;
#   2. in each run 4 subscribers, each placed on one of bench-agent-1..4, all four agents used;
#   3. each subscriber: distinct == the events published, lost 0, duplicates 0, throughput > 0;
#   4. `agents`: 4 entries, named bench-agent-1..4, with 4 distinct host names and 4 distinct
#      network namespaces (one container each), none the coordinator's host;
#   5. report.svg: not empty, well-formed XML whose root is <svg>.
#
# It prints the figures it found, one line per subscriber, and the elapsed time. Exits 0 when every
# check passed; otherwise 1, with a line `FAILED: …`.
#
#   cluster/compose-bench-test.sh                     # run the profile and check its report
#   cluster/compose-bench-test.sh --check-report DIR  # only check DIR/report.json and DIR/report.svg
#
# Needs a Docker engine (cluster/dockerd.sh start), docker-compose (1.29, or COMPOSE="docker
# compose"), python3, and the image (make image). Builds nothing.
#
# Variables: MESH_IMAGE (default eventmesh:latest), COMPOSE (default docker-compose), COUNT (events
# published per run, default 20000), RATE (events/s, default 10k: raw PUB/SUB drops what exceeds
# its high-water mark, so not max), RUN_TIMEOUT (seconds for the whole `up`, default 180).
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."
export MESH_IMAGE=${MESH_IMAGE:-eventmesh:latest}
read -r -a compose <<< "${COMPOSE:-docker-compose}"
COUNT=${COUNT:-20000}
RATE=${RATE:-10k}
RUN_TIMEOUT=${RUN_TIMEOUT:-180}
SUBSCRIBERS=4
AGENTS="bench-agent-1 bench-agent-2 bench-agent-3 bench-agent-4"

say() { echo "== $*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Checks the report in $1 (report.json, report.svg) against COUNT; prints one line per subscriber,
# and `FAILED: …` on stderr with exit 1 at the first check that fails.
check_report() {
  python3 - "$1" "$COUNT" "$SUBSCRIBERS" $AGENTS <<'EOF'
import json, os, sys
import xml.etree.ElementTree as ET

folder, count, subscribers, agents = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]

def fail(message):
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)

path = os.path.join(folder, "report.json")
try:
    with open(path) as f:
        report = json.load(f)
except (OSError, ValueError) as error:
    fail(f"no readable report {path}: {error}")

# 1. One step, a mesh run and a raw run, each with COUNT events published and no worker missing.
steps = report.get("steps") or []
if len(steps) != 1:
    fail(f"check 1: expected 1 step, the report has {len(steps)}")
step = steps[0]
runs = []
for kind in ("mesh", "raw"):
    kind_runs = step.get(kind) or []
    if len(kind_runs) != 1:
        fail(f"check 1: expected 1 {kind} run, the report has {len(kind_runs)}")
    run = kind_runs[0]
    if run.get("plan", {}).get("raw") != (kind == "raw"):
        fail(f"check 1: the {kind} run's plan says raw={run.get('plan', {}).get('raw')}")
    published = sum((run.get("published") or {}).values())
    if published != count:
        fail(f"check 1: the {kind} run published {published} events, not {count} ({run.get('published')})")
    if run.get("missing"):
        fail(f"check 1: the {kind} run misses workers: {run['missing']}")
    runs.append((kind, run, published))

print(f"   {'run':5} {'node':6} {'agent':14} {'received':>9} {'distinct':>9} {'lost':>5} {'dup':>4} {'events/s':>9} {'p50 µs':>9} {'p99 µs':>9}")
for kind, run, published in runs:
    subs = run.get("subscribers") or []
    for s in subs:
        latency = s.get("latencyMicroseconds") or {}
        print(f"   {kind:5} {s.get('node', '?'):6} {s.get('agent') or '-':14} {s.get('received', '?'):>9} {s.get('distinct', '?'):>9} "
              f"{s.get('lost', '?'):>5} {s.get('duplicates', '?'):>4} {s.get('throughput', 0):>9.0f} "
              f"{latency.get('p50', 0):>9.0f} {latency.get('p99', 0):>9.0f}")
    # 2. SUBSCRIBERS subscribers, each on one of the agents, every agent used.
    if len(subs) != subscribers:
        fail(f"check 2: the {kind} run has {len(subs)} subscribers, not {subscribers}")
    placed = [s.get("agent") for s in subs]
    strangers = [a for a in placed if a not in agents]
    if strangers:
        fail(f"check 2: {kind} subscribers on agents other than {', '.join(agents)}: {strangers}")
    if sorted(set(placed)) != sorted(agents):
        fail(f"check 2: the {kind} run's subscribers are on {sorted(set(placed))}, not on every one of {agents}")
    # 3. Every subscriber got every event once, none lost, and measured a throughput.
    for s in subs:
        name = f"{kind} {s.get('node')} on {s.get('agent')}"
        if s.get("distinct") != published:
            fail(f"check 3: {name}: {s.get('distinct')} distinct events, not the {published} published")
        if s.get("lost") != 0:
            fail(f"check 3: {name}: lost {s.get('lost')}")
        if s.get("duplicates") != 0:
            fail(f"check 3: {name}: {s.get('duplicates')} duplicates")
        if not (s.get("throughput") or 0) > 0:
            fail(f"check 3: {name}: throughput {s.get('throughput')}")

# 4. Four agents, one container each: distinct host names and network namespaces, none the
#    coordinator's host.
entries = report.get("agents") or []
infos = [a.get("info") or {} for a in entries]
if len(entries) != len(agents):
    fail(f"check 4: `agents` has {len(entries)} entries, not {len(agents)}")
names = sorted(i.get("name") for i in infos)
if names != sorted(agents):
    fail(f"check 4: the agents are named {names}, not {sorted(agents)}")
hostnames = [i.get("hostname") for i in infos]
if None in hostnames or len(set(hostnames)) != len(agents):
    fail(f"check 4: the agents' host names are not {len(agents)} distinct ones: {hostnames}")
namespaces = [i.get("networkNamespace") for i in infos]
if None in namespaces or len(set(namespaces)) != len(agents):
    fail(f"check 4: the agents' network namespaces are not {len(agents)} distinct ones: {namespaces}")
coordinator = (report.get("environment") or {}).get("host")
if coordinator in hostnames:
    fail(f"check 4: an agent runs on the coordinator's host {coordinator}")
for entry, info in zip(entries, infos):
    print(f"   agent {info.get('name')}: host {info.get('hostname')}, {info.get('networkNamespace')}, "
          f"round trip {entry.get('roundTripMicroseconds', 0):.0f} µs")
print(f"   coordinator: host {coordinator}")

# 5. The chart.
svg = os.path.join(folder, "report.svg")
if not os.path.isfile(svg) or os.path.getsize(svg) == 0:
    fail(f"check 5: {svg} is missing or empty")
try:
    root = ET.parse(svg).getroot()
except ET.ParseError as error:
    fail(f"check 5: {svg} is not well-formed XML: {error}")
if root.tag.rsplit("}", 1)[-1] != "svg":
    fail(f"check 5: the root element of {svg} is {root.tag}, not svg")
summary = step.get("summary") or {}
print(f"   slowest node: mesh {summary.get('meshThroughput', 0):.0f} events/s, raw {summary.get('rawThroughput', 0):.0f} events/s; "
      f"report.svg {os.path.getsize(svg)} bytes, well-formed")
EOF
}

case "${1:-}" in
  "") ;;
  --check-report)
    [ -n "${2:-}" ] || { echo "usage: $0 --check-report DIR" >&2; exit 64; }
    command -v python3 >/dev/null || fail "python3 not found"
    check_report "$2"
    say "PASSED: the report in $2"
    exit 0 ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;;
  *) echo "usage: $0 [--check-report DIR]" >&2; exit 64 ;;
esac

prefix=meshbench
project="$prefix$$t$(date +%s)"
label="com.docker.compose.project=$project"
results=$(mktemp -d "${TMPDIR:-/tmp}/$project.XXXXXX")
started=$(now)

c() { "${compose[@]}" -f docker-compose.yml -p "$1" --profile bench "${@:2}"; }

# Removes everything a project created, whatever state it is in.
# shellcheck source=cluster/compose-lib.sh
. cluster/compose-lib.sh
remove_project() {
  local name=$1
  c "$name" down -v --remove-orphans -t 2 >/dev/null 2>&1 || true
  remove_labelled "$name"
}

cleanup() {
  remove_project "$project"
  rm -rf "$results"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

docker info >/dev/null 2>&1 || fail "no Docker engine answers (cluster/dockerd.sh start)"
docker image inspect "$MESH_IMAGE" >/dev/null 2>&1 || fail "image $MESH_IMAGE not found; run make image first"
command -v python3 >/dev/null || fail "python3 not found"
"${compose[@]}" version >/dev/null 2>&1 || fail "'${compose[*]}' does not run"
c "$project" config -q || fail "docker-compose.yml with the profile bench does not validate"

# Bench projects of earlier runs whose script is gone: name meshbench<pid>t<time>, pid not alive.
stale=$( { docker ps -a --format '{{ .Label "com.docker.compose.project" }}'
           docker network ls --format '{{ .Label "com.docker.compose.project" }}'
           docker volume ls --format '{{ .Label "com.docker.compose.project" }}'; } 2>/dev/null \
         | grep -E "^${prefix}[0-9]+t[0-9]+$" | sort -u || true)
alive() { kill -0 "$1" 2>/dev/null && tr '\0' ' ' < /proc/"$1"/cmdline 2>/dev/null | grep -q compose-bench-test; }
for name in $stale; do
  owner=${name#"$prefix"}; owner=${owner%%t*}
  if ! alive "$owner"; then
    say "removing stale bench project $name"
    remove_project "$name"
  fi
done
# Their results folders too.
for folder in "${TMPDIR:-/tmp}/$prefix"*t*.*; do
  [ -d "$folder" ] && [ "$folder" != "$results" ] || continue
  name=$(basename "$folder"); name=${name%%.*}
  [[ "$name" =~ ^${prefix}[0-9]+t[0-9]+$ ]] || continue
  owner=${name#"$prefix"}; owner=${owner%%t*}
  alive "$owner" || rm -rf "$folder"
done

export MESH_BENCH_RESULTS=$results MESH_BENCH_SUBSCRIBERS=$SUBSCRIBERS MESH_BENCH_COUNT=$COUNT \
  MESH_BENCH_RATE=$RATE MESH_BENCH_RAW=--raw MESH_LOG_LEVEL=${MESH_LOG_LEVEL:-warning}
say "project $project, image $MESH_IMAGE: $SUBSCRIBERS subscribers on 4 agents, $COUNT events at $RATE/s, mesh and raw; results in $results"

up_started=$(now)
status=0
timeout "$RUN_TIMEOUT" "${compose[@]}" -f docker-compose.yml -p "$project" --profile bench \
  up --exit-code-from bench bench >"$results/up.log" 2>&1 || status=$?
ran=$(seconds_since "$up_started")
if [ "$status" != 0 ]; then
  sed 's/^/   /' "$results/up.log" | tail -n 40 >&2
  [ "$status" != 124 ] || fail "up did not finish within $RUN_TIMEOUT s"
  fail "up --exit-code-from bench exited $status after $ran s"
fi
say "up --exit-code-from bench bench: exit 0 after $ran s; the report:"
check_report "$results"

say "PASSED in $(seconds_since "$started") s (the bench run, up to exit: $ran s)"
