#!/usr/bin/env bash
# Cluster test of docker-compose.yml with the test settings of cluster/compose.test.yml, under a
# project name of its own (meshtest<pid>t<time>); test projects left by an earlier run that no
# longer runs are removed first, and a trap takes this one down on any failure.
#
#   1. up: every container healthy (time printed); COUNT events published from one node
#      (`mesh publish --print-ids` in a one-off `publisher` container) arrive exactly once on
#      every other node: the ids each node printed (`--json`, NDJSON in its log) are the ids
#      published, none missing, none twice; each node's stats agree (delivered COUNT, lost 0);
#      the tail's NDJSON holds events of every publishing node's origin.
#   2. broker-a's process killed (SIGKILL from the host, to the pid under the container's init)
#      while a burst flows: every node delivers the whole burst, once, and counts nothing lost;
#      the broker is restarted by its restart policy and healthy again, and every node has its
#      connections to it back (recovery times printed).
#   3. The agent node killed the same way while a burst flows: the other nodes lose nothing; the
#      restarted agent is a new origin (new incarnation), healthy again, heard by the others, and
#      receives a burst published after it is back, exactly once.
#   4. --scale node=1+MORE_NODES (up starts one): MORE_NODES more generic nodes, healthy, each
#      with an id of its own; every node receives a burst exactly once (lost 0; copies dropped
#      as duplicates or too old at most one per event: the copy through the second broker).
#   5. down -v: no container, network or volume with the project's label is left.
#
# Exits 0 when every check passed; otherwise 1, with a line `FAILED: check N (…): …`.
#
#   cluster/compose-test.sh              # all checks
#   cluster/compose-test.sh --dedup-off  # every node with MESH_DEDUP=off (and one workflow run
#                                        # only): check 1 must fail (events delivered twice);
#                                        # exits 0 if it does, 1 if it passes
#
# Needs a Docker engine (cluster/dockerd.sh start), docker-compose (1.29, or COMPOSE="docker
# compose"), python3, and the image (make image). Builds nothing.
#
# Variables: MESH_IMAGE (default eventmesh:latest), COMPOSE (default docker-compose), COUNT
# (events per burst, default 10000), RATE (events/s, default 2500), KILL_RATE (events/s of a
# burst that a kill interrupts, default 1250, so that most of it comes after the kill),
# REJOIN_COUNT (the burst after the node's restart, default 1000), MORE_NODES (default 8),
# HEALTH_TIMEOUT, DELIVERY_TIMEOUT, RECOVERY_TIMEOUT in seconds (default 120, 60, 60),
# MESH_TEST_NET (the test network is MESH_TEST_NET.0/24; default: a free 10.201.N).
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."
export MESH_IMAGE=${MESH_IMAGE:-eventmesh:latest}
read -r -a compose <<< "${COMPOSE:-docker-compose}"
COUNT=${COUNT:-10000}
RATE=${RATE:-2500}
KILL_RATE=${KILL_RATE:-1250}
REJOIN_COUNT=${REJOIN_COUNT:-1000}
MORE_NODES=${MORE_NODES:-8}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-120}
DELIVERY_TIMEOUT=${DELIVERY_TIMEOUT:-60}
RECOVERY_TIMEOUT=${RECOVERY_TIMEOUT:-60}

dedup_off=0
case "${1:-}" in
  "") ;;
  --dedup-off) dedup_off=1 ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;;
  *) echo "usage: $0 [--dedup-off]" >&2; exit 64 ;;
esac
if [ "$dedup_off" = 1 ]; then
  export MESH_DEDUP=off
  # One workflow run, at start: without dedup the role nodes act on every copy they receive
  # (each step starts twice, and so on down the chain), so a run every second would flood
  # the cluster and drown the check in that traffic.
  export MESH_WORKFLOW_INTERVAL=${MESH_WORKFLOW_INTERVAL:-3600}
else
  export MESH_DEDUP=on
fi

prefix=meshtest
project="$prefix$$t$(date +%s)"
label="com.docker.compose.project=$project"
work=$(mktemp -d "${TMPDIR:-/tmp}/$project.XXXXXX")
script_started=$(date +%s.%N)
check="preflight"

say() { echo "== $*"; }
row() { echo "   $*"; }
now() { date +%s.%N; }
clock() { date -u +%T.%N | cut -c1-12; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
deadline_in() { echo $(( $(date +%s) + $1 )); }
before() { [ "$(date +%s)" -lt "$1" ]; }
c() { "${compose[@]}" -f docker-compose.yml -f cluster/compose.test.yml -p "$project" "$@"; }

finished=0
expected_failure=0
background=""
fail() {
  if [ "$dedup_off" = 1 ] && [[ "$check" == "check 1 "* ]] && [[ "$*" == *"delivered more than once"* ]]; then
    echo "== check 1 failed with MESH_DEDUP=off, as it must: $*"
    expected_failure=1
    exit 0
  fi
  echo "FAILED: $check: $*" >&2
  exit 1
}

# Removes everything a project created, whatever state it is in.
# shellcheck source=cluster/compose-lib.sh
. cluster/compose-lib.sh
remove_project() {
  local name=$1
  "${compose[@]}" -f docker-compose.yml -f cluster/compose.test.yml -p "$name" down -v --remove-orphans -t 2 >/dev/null 2>&1 || true
  remove_labelled "$name"
}

cleanup() {
  local status=$?
  if [ -n "$background" ] && kill -0 "$background" 2>/dev/null; then kill "$background" 2>/dev/null || true; fi
  if [ "$finished" = 0 ]; then
    if [ "$expected_failure" = 0 ] && [ "$status" != 0 ]; then
      echo "-- state and last log lines of project $project:" >&2
      docker ps -a --filter "label=$label" --format '   {{.Names}}  {{.Status}}' >&2 || true
      for id in $(docker ps -aq --filter "label=$label"); do
        docker logs --tail 4 "$id" 2>&1 | cut -c1-240 | sed "s/^/   $(docker inspect -f '{{.Name}}' "$id" | tr -d /): /" >&2 || true
      done
    fi
    remove_project "$project"
    say "removed project $project"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Inspecting the project.

# The project's containers of one service (all of them with no argument), one-off ones aside.
containers() {
  local filters=(--filter "label=$label" --filter "label=com.docker.compose.oneoff=False")
  [ -z "${1:-}" ] || filters+=(--filter "label=com.docker.compose.service=$1")
  docker ps -a "${filters[@]}" --format '{{ .Label "com.docker.compose.container-number" }} {{ .ID }}' | sort -n | cut -d' ' -f2
}
# service_N, as compose numbers the containers.
name_of() {
  docker inspect -f '{{ index .Config.Labels "com.docker.compose.service" }}_{{ index .Config.Labels "com.docker.compose.container-number" }}' "$1"
}
# Every node container (the receivers): role nodes, generic nodes and the tail.
receivers() { for service in provider agent workflow node tail; do containers "$service"; done; }

# Waits until every container of the project runs and is healthy; $1 is the deadline.
wait_all_healthy() {
  local deadline=$1 pending id status
  while :; do
    pending=""
    for id in $(containers); do
      status=$(docker inspect -f '{{ .State.Status }}/{{ if .State.Health }}{{ .State.Health.Status }}{{ end }}' "$id")
      [ "$status" = running/healthy ] || pending="$pending $(name_of "$id")($status)"
    done
    [ -n "$pending" ] || return 0
    before "$deadline" || fail "not healthy in time:$pending"
    sleep 0.5
  done
}

# The host pid of the mesh process of a container: the child of its init (init: true).
mesh_pid() {
  local init child
  init=$(docker inspect -f '{{ .State.Pid }}' "$1")
  [ "$init" -gt 0 ] || fail "$(name_of "$1") runs no process"
  child=$(cat /proc/"$init"/task/*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d' | head -n 1)
  if [ -n "$child" ] && [ "$(cat /proc/"$child"/comm 2>/dev/null)" = mesh ]; then echo "$child"; return; fi
  [ "$(cat /proc/"$init"/comm 2>/dev/null)" = mesh ] || fail "no mesh process under pid $init of $(name_of "$1")"
  echo "$init"
}

# Killing a container's mesh process with SIGKILL from the host, so that its restart policy
# applies: prepare_kill looks up the pid beforehand (sets kill_pid, kill_restarts), kill_prepared
# kills (sets killed_at), wait_restarted_healthy waits until the container was restarted and is
# healthy again (sets recovery, seconds from the kill).
prepare_kill() {
  kill_pid=$(mesh_pid "$1")
  kill_restarts=$(docker inspect -f '{{ .RestartCount }}' "$1")
  kill_name=$(name_of "$1")
}
kill_prepared() {
  kill -9 "$kill_pid"
  killed_at=$(now)
  row "$(clock) killed $kill_name's mesh process, host pid $kill_pid (SIGKILL)"
}
wait_restarted_healthy() {
  local id=$1 deadline state
  deadline=$(deadline_in "$RECOVERY_TIMEOUT")
  while :; do
    state=$(docker inspect -f '{{ .RestartCount }} {{ .State.Status }}/{{ if .State.Health }}{{ .State.Health.Status }}{{ end }}' "$id")
    [ "$state" = "$((kill_restarts + 1)) running/healthy" ] && break
    before "$deadline" || fail "$kill_name not restarted and healthy within $RECOVERY_TIMEOUT s of the kill (restarts, state: $state)"
    sleep 0.2
  done
  recovery=$(seconds_since "$killed_at")
  [ "$(mesh_pid "$id")" != "$kill_pid" ] || fail "$kill_name still runs pid $kill_pid"
}

# A node's stats as one line: node id, incarnation, ready, lost and too-old over every origin,
# then for origin $2: delivered, duplicates, lost, too-old (- when it has not heard of it).
stats_of() {
  docker exec "$1" mesh stats --timeout-ms 5000 tcp://127.0.0.1:7001 | python3 -c '
import json, sys
bridge = json.load(sys.stdin)["bridge"]
origin = [o["counts"] for o in bridge["origins"] if o["node"] == sys.argv[1]]
figures = [bridge["nodeID"], bridge["incarnation"], str(bridge["ready"]).lower(), bridge["lost"], bridge["tooOld"]]
if origin:
    figures += [sum(c[k] for c in origin) for k in ("delivered", "duplicates", "lost", "tooOld")]
else:
    figures += ["-"] * 4
print(*figures)' "${2:-}"
}

# ---------------------------------------------------------------------------------------------
# Publishing and checking a burst.

# Publishes $2 events of type test.burst from a one-off node whose id is $1 at $3 events/s; the
# ids go to $work/$1.ids. In the background with `&` (then $background is its pid).
publish() {
  local origin=$1 count=$2 rate=$3
  timeout $(( count / rate + 60 )) "${compose[@]}" -f docker-compose.yml -f cluster/compose.test.yml -p "$project" \
    run --rm -T --no-deps publisher publish test.burst --node-id "$origin" --count "$count" --rate "$rate" \
    --ready-timeout 20 --print-ids >"$work/$origin.ids" 2>"$work/$origin.err"
}
# Waits for the background publisher and checks that it published $2 ids.
finish_publish() {
  local origin=$1 count=$2 status=0
  wait "$background" || status=$?
  background=""
  [ "$status" = 0 ] || fail "publishing $origin failed (exit $status): $(tr '\n' ' ' < "$work/$origin.err" | cut -c1-400)"
  check_published "$origin" "$count"
}
check_published() {
  local published
  published=$(sort -u "$work/$1.ids" | wc -l)
  [ "$published" = "$2" ] || fail "$1 published $published distinct ids, not $2"
}

# Lines of a container's log (stdout: the NDJSON) with events of origin $2, since $3.
events_of() { docker logs --since "$3" "$1" 2>/dev/null | grep -F "\"node\":\"$2\"" || true; }

# Waits until every container in $4… printed at least $2 events of origin $1 since $3 (or stops
# receiving them for 10 s, or the deadline passes), then compares each one's ids with the ids
# published: none missing, none twice, none unknown; and its stats for the origin: delivered
# $2, lost 0, copies dropped (duplicates + too old) at most one per event (the copy through the
# other broker), and nothing lost from any origin. With MESH_DEDUP=off the stats still say
# delivered $2 (they count copies as duplicates even when delivered): only the ids show it.
check_burst() {
  local origin=$1 count=$2 since=$3; shift 3
  local deadline id name got last_got last_change
  sort "$work/$origin.ids" > "$work/$origin.sorted"
  deadline=$(deadline_in "$DELIVERY_TIMEOUT")
  for id in "$@"; do
    last_got=-1; last_change=$(date +%s)
    while :; do
      got=$(events_of "$id" "$origin" "$since" | wc -l)
      [ "$got" -ge "$count" ] && break
      if [ "$got" != "$last_got" ]; then last_got=$got; last_change=$(date +%s); fi
      [ $(( $(date +%s) - last_change )) -lt 10 ] || break
      before "$deadline" || break
      sleep 0.3
    done
  done
  # The two copies of an event travel side by side (one per broker), so a node that printed
  # the whole burst has printed any second copies too.
  local bad="" received distinct missing unknown twice stats node_id incarnation ready lost too_old delivered duplicates origin_lost origin_too_old
  printf '   %-12s %8s %8s %7s %6s %7s | stats: %9s %10s %7s %5s %9s\n' node printed distinct missing twice unknown delivered duplicates too-old lost "lost(all)"
  for id in "$@"; do
    name=$(name_of "$id")
    events_of "$id" "$origin" "$since" | sed 's/.*"id":"\([^"]*\)".*/\1/' | sort > "$work/$name.$origin"
    received=$(wc -l < "$work/$name.$origin")
    distinct=$(sort -u "$work/$name.$origin" | wc -l)
    missing=$(sort -u "$work/$name.$origin" | comm -23 "$work/$origin.sorted" - | wc -l)
    unknown=$(sort -u "$work/$name.$origin" | comm -13 "$work/$origin.sorted" - | wc -l)
    twice=$(( received - distinct ))
    stats=$(stats_of "$id" "$origin") || fail "no stats from $name"
    read -r node_id incarnation ready lost too_old delivered duplicates origin_lost origin_too_old <<< "$stats"
    printf '   %-12s %8s %8s %7s %6s %7s |        %9s %10s %7s %5s %9s\n' "$name" "$received" "$distinct" "$missing" "$twice" "$unknown" \
      "$delivered" "$duplicates" "$origin_too_old" "$origin_lost" "$lost"
    [ "$missing" = 0 ] || bad="$bad $name: $missing ids missing;"
    [ "$twice" = 0 ] || bad="$bad $name: $twice ids delivered more than once;"
    [ "$unknown" = 0 ] || bad="$bad $name: $unknown ids never published;"
    [ "$delivered" = "$count" ] || bad="$bad $name: stats delivered $delivered, not $count;"
    [ "$origin_lost" = 0 ] && [ "$lost" = 0 ] || bad="$bad $name: stats lost $origin_lost of $origin, $lost in all;"
    # Copies dropped: as duplicates, or as too old when they come later than the dedup window
    # (a broker's backlog after its restart); two brokers, so at most one copy per event.
    [ "$duplicates" = - ] || [ $(( duplicates + origin_too_old )) -le "$count" ] \
      || bad="$bad $name: $duplicates duplicates and $origin_too_old too old: more than one copy per event;"
  done
  [ -z "$bad" ] || fail "$origin:$bad"
}

# Waits until a receiver printed at least $3 events of origin $2 since $4: the burst flows.
wait_flowing() {
  local id=$1 origin=$2 at_least=$3 since=$4 deadline got
  deadline=$(deadline_in "$DELIVERY_TIMEOUT")
  until got=$(events_of "$id" "$origin" "$since" | wc -l); [ "$got" -ge "$at_least" ]; do
    kill -0 "$background" 2>/dev/null || fail "the publisher $origin exited before $at_least events arrived: $(tr '\n' ' ' < "$work/$origin.err" | cut -c1-400)"
    before "$deadline" || fail "fewer than $at_least events of $origin arrived within $DELIVERY_TIMEOUT s"
    sleep 0.1
  done
  kill -0 "$background" 2>/dev/null || fail "the publisher $origin finished before the fault could hit its flow"
  row "$(clock) $got events of $origin arrived at $(name_of "$id"); its publisher is still running"
}

# Proves that the kill hit the flow: events of origin $1 (as receiver $2 printed them since $3)
# were published after the last kill. Prints how many.
published_after_kill() {
  local origin=$1 id=$2 since=$3 after
  after=$(events_of "$id" "$origin" "$since" | sed 's/.*"ts":\([0-9]*\).*/\1/' \
    | awk -v k="$killed_at" 'BEGIN { k = k * 1e9 } $1 > k { n++ } END { print n + 0 }')
  [ "$after" -gt 0 ] || fail "no event of $origin was published after the kill: the kill did not hit the flow"
  echo "$after"
}

# Waits until every node in $@ has both its connections to each broker up again (the node's
# stats count connections up now, outbound and inbound: 4 with two brokers).
wait_nodes_connected() {
  local deadline id got pending
  deadline=$(deadline_in "$RECOVERY_TIMEOUT")
  while :; do
    pending=""
    for id in "$@"; do
      got=$(docker exec "$id" mesh stats --timeout-ms 2000 tcp://127.0.0.1:7001 2>/dev/null \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["bridge"]["connections"])' 2>/dev/null || echo "?")
      [ "$got" = 4 ] || pending="$pending $(name_of "$id")($got)"
    done
    [ -n "$pending" ] || return 0
    before "$deadline" || fail "nodes without 4 broker connections $RECOVERY_TIMEOUT s after the kill:$pending"
    sleep 0.3
  done
}

# ---------------------------------------------------------------------------------------------

docker info >/dev/null 2>&1 || fail "no Docker engine answers (cluster/dockerd.sh start)"
docker image inspect "$MESH_IMAGE" >/dev/null 2>&1 || fail "image $MESH_IMAGE not found; run make image first"
command -v python3 >/dev/null || fail "python3 not found"
"${compose[@]}" version >/dev/null 2>&1 || fail "'${compose[*]}' does not run"
c config -q || fail "docker-compose.yml with cluster/compose.test.yml does not validate"

# Test projects of earlier runs whose script is gone: name meshtest<pid>t<time>, pid not alive.
stale=$( { docker ps -a --format '{{ .Label "com.docker.compose.project" }}'
           docker network ls --format '{{ .Label "com.docker.compose.project" }}'
           docker volume ls --format '{{ .Label "com.docker.compose.project" }}'; } 2>/dev/null \
         | grep -E "^${prefix}[0-9]+t[0-9]+$" | sort -u || true)
for name in $stale; do
  owner=${name#"$prefix"}; owner=${owner%%t*}
  if ! kill -0 "$owner" 2>/dev/null || ! tr '\0' ' ' < /proc/"$owner"/cmdline 2>/dev/null | grep -q compose-test; then
    say "removing stale test project $name"
    remove_project "$name"
  fi
done

# The project's subnet, MESH_TEST_NET.0/24 (see cluster/compose.test.yml): one no Docker network
# and no route of this host uses.
if [ -z "${MESH_TEST_NET:-}" ]; then
  used=$( { docker network inspect -f '{{ range .IPAM.Config }}{{ .Subnet }} {{ end }}' $(docker network ls -q)
            ip route 2>/dev/null || true; } | tr ' ' '\n' | grep -E '^[0-9.]+/' || true)
  start=$(( RANDOM % 256 ))
  for step in $(seq 0 255); do
    candidate="10.201.$(( (start + step) % 256 ))"
    grep -q "^${candidate//./\\.}\." <<< "$used" || { MESH_TEST_NET=$candidate; break; }
  done
  [ -n "${MESH_TEST_NET:-}" ] || fail "no free subnet 10.201.N.0/24 for the test network"
fi
export MESH_TEST_NET

say "project $project, subnet $MESH_TEST_NET.0/24, image $MESH_IMAGE, bursts of $COUNT events at $RATE/s ($KILL_RATE/s under a kill), MESH_DEDUP=$MESH_DEDUP"

# 1 ------------------------------------------------------------------------------------------
check="check 1 (up, healthy, exactly once)"
up_started=$(now)
health_deadline=$(deadline_in "$HEALTH_TIMEOUT")
# Compose 1.x waits inside `up` for the services others depend on: the deadline covers it.
timeout "$HEALTH_TIMEOUT" "${compose[@]}" -f docker-compose.yml -f cluster/compose.test.yml -p "$project" up -d >"$work/up.log" 2>&1 \
  || { sed 's/^/   /' "$work/up.log"; fail "up failed or took more than $HEALTH_TIMEOUT s"; }
wait_all_healthy "$health_deadline"
healthy_after=$(seconds_since "$up_started")
say "$check: all $(containers | wc -l) containers healthy $healthy_after s after up"

mapfile -t nodes < <(receivers)
[ "${#nodes[@]}" = 5 ] || fail "expected 5 node containers (provider, agent, workflow, node, tail), found ${#nodes[@]}"
since=$(( $(date +%s) - 1 ))
started=$(now)
publish burst1 "$COUNT" "$RATE" || fail "publishing burst1 failed: $(tr '\n' ' ' < "$work/burst1.err" | cut -c1-400)"
check_published burst1 "$COUNT"
say "$check: burst1 published $COUNT events in $(seconds_since "$started") s (one-off container, start to exit); per node:"
check_burst burst1 "$COUNT" "$since" "${nodes[@]}"
say "$check: every node delivered the $COUNT ids of burst1 exactly once"

tail_id=$(containers tail)
origins=$(docker logs "$tail_id" 2>/dev/null | sed -n 's/^{"kind":"event".*"node":"\([^"]*\)".*/\1/p' | sort | uniq -c | awk '{ printf " %s=%s", $2, $1 }')
missing_origins=""
for origin in provider agent workflow burst1; do
  grep -q " $origin=" <<< "$origins" || missing_origins="$missing_origins $origin"
done
[ -z "$missing_origins" ] || fail "the tail's NDJSON has no events from:$missing_origins (it has:$origins)"
say "$check: the tail's NDJSON holds events of every origin:$origins"
if [ "$dedup_off" = 1 ]; then echo "FAILED: $check passed with MESH_DEDUP=off: it cannot see duplicates" >&2; exit 1; fi

# 2 ------------------------------------------------------------------------------------------
check="check 2 (broker killed while events flow)"
broker=$(containers broker-a)
provider_id=$(containers provider)
prepare_kill "$broker"
since=$(( $(date +%s) - 1 ))
publish burst2 "$COUNT" "$KILL_RATE" &
background=$!
wait_flowing "$provider_id" burst2 $(( COUNT / 10 )) "$since"
kill_prepared
wait_restarted_healthy "$broker"
broker_recovery=$recovery
say "$check: broker-a restarted and healthy $broker_recovery s after the kill"
wait_nodes_connected "${nodes[@]}"
say "$check: all ${#nodes[@]} nodes connected to both brokers again $(seconds_since "$killed_at") s after the kill"
finish_publish burst2 "$COUNT"
grep -q "endpoint=tcp://broker-a:.*disconnected" "$work/burst2.err" \
  || fail "the publisher of burst2 logged no disconnect from broker-a: the kill did not hit the flow"
after=$(published_after_kill burst2 "$provider_id" "$since")
say "$check: $after events of burst2 were published after the kill (the publisher logged its disconnect from broker-a); per node:"
check_burst burst2 "$COUNT" "$since" "${nodes[@]}"
say "$check: nothing lost, nothing twice; duplicates < $COUNT are the copies broker-a missed while down"

# 3 ------------------------------------------------------------------------------------------
check="check 3 (node killed while events flow)"
agent=$(containers agent)
others=()
for id in "${nodes[@]}"; do [ "$id" = "$agent" ] || others+=("$id"); done
old_incarnation=$(stats_of "$agent" | cut -d' ' -f2)
prepare_kill "$agent"
since=$(( $(date +%s) - 1 ))
publish burst3 "$COUNT" "$KILL_RATE" &
background=$!
wait_flowing "$provider_id" burst3 $(( COUNT / 10 )) "$since"
kill_prepared
wait_restarted_healthy "$agent"
agent_recovery=$recovery
say "$check: agent restarted and healthy (ready on both brokers) $agent_recovery s after the kill"
finish_publish burst3 "$COUNT"
after=$(published_after_kill burst3 "$provider_id" "$since")
new_incarnation=$(stats_of "$agent" | cut -d' ' -f2)
[ "$new_incarnation" != "$old_incarnation" ] || fail "the restarted agent kept its incarnation $old_incarnation"
say "$check: the agent is a new origin: incarnation $old_incarnation -> $new_incarnation"
say "$check: $after events of burst3 were published after the kill; on the other nodes:"
check_burst burst3 "$COUNT" "$since" "${others[@]}"
# The others hear the new incarnation: the tail tracks origin (agent, new incarnation).
deadline=$(deadline_in "$RECOVERY_TIMEOUT")
until docker exec "$tail_id" mesh stats tcp://127.0.0.1:7001 | python3 -c '
import json, sys
origins = json.load(sys.stdin)["bridge"]["origins"]
sys.exit(0 if any(o["node"] == "agent" and o["incarnation"] == int(sys.argv[1]) for o in origins) else 1)' "$new_incarnation"; do
  before "$deadline" || fail "the tail never heard the agent's new incarnation $new_incarnation"
  sleep 0.3
done
say "$check: the tail hears the agent's new incarnation; burst4, published after the agent is back, per node:"
since=$(( $(date +%s) - 1 ))
publish burst4 "$REJOIN_COUNT" "$RATE" || fail "publishing burst4 failed: $(tr '\n' ' ' < "$work/burst4.err" | cut -c1-400)"
check_published burst4 "$REJOIN_COUNT"
check_burst burst4 "$REJOIN_COUNT" "$since" "${nodes[@]}"
say "$check: the others lost nothing of burst3; the restarted agent received burst4 exactly once"

# 4 ------------------------------------------------------------------------------------------
check="check 4 (--scale node=$(( 1 + MORE_NODES )): $MORE_NODES more generic nodes)"
mapfile -t generic_before < <(containers node)
scale_started=$(now)
timeout "$HEALTH_TIMEOUT" "${compose[@]}" -f docker-compose.yml -f cluster/compose.test.yml -p "$project" \
  up -d --no-recreate --scale node=$(( 1 + MORE_NODES )) >"$work/scale.log" 2>&1 \
  || { sed 's/^/   /' "$work/scale.log"; fail "up --scale failed or took more than $HEALTH_TIMEOUT s"; }
wait_all_healthy "$(deadline_in "$HEALTH_TIMEOUT")"
scale_healthy_after=$(seconds_since "$scale_started")
mapfile -t generic < <(containers node)
[ "${#generic[@]}" = $(( ${#generic_before[@]} + MORE_NODES )) ] \
  || fail "expected $(( ${#generic_before[@]} + MORE_NODES )) generic nodes, found ${#generic[@]}"
ids=$(for id in "${generic[@]}"; do stats_of "$id" | cut -d' ' -f1; done | sort -u | wc -l)
[ "$ids" = "${#generic[@]}" ] || fail "the ${#generic[@]} generic nodes have only $ids distinct node ids"
say "$check: ${#generic[@]} generic nodes (${MORE_NODES} new), distinct ids, all healthy $scale_healthy_after s after up --scale"
mapfile -t nodes < <(receivers)
since=$(( $(date +%s) - 1 ))
started=$(now)
publish burst5 "$COUNT" "$RATE" || fail "publishing burst5 failed: $(tr '\n' ' ' < "$work/burst5.err" | cut -c1-400)"
check_published burst5 "$COUNT"
say "$check: burst5 published in $(seconds_since "$started") s; per node (${#nodes[@]}):"
check_burst burst5 "$COUNT" "$since" "${nodes[@]}"
say "$check: every node, the $MORE_NODES new ones included, delivered burst5 exactly once"

# 5 ------------------------------------------------------------------------------------------
check="check 5 (down -v leaves nothing)"
down_started=$(now)
timeout "$HEALTH_TIMEOUT" "${compose[@]}" -f docker-compose.yml -f cluster/compose.test.yml -p "$project" down -v --remove-orphans \
  >"$work/down.log" 2>&1 || { sed 's/^/   /' "$work/down.log"; fail "down failed or took more than $HEALTH_TIMEOUT s"; }
left=""
for kind in "container ls -a" "network ls" "volume ls"; do
  # shellcheck disable=SC2086
  found=$(docker $kind -q --filter "label=$label")
  [ -z "$found" ] || left="$left ${kind%% *}s: $(echo $found)"
done
[ -z "$left" ] || fail "left after down:$left"
finished=1
say "$check: down in $(seconds_since "$down_started") s; no containers, networks or volumes with label $label"

say "PASSED in $(seconds_since "$script_started") s: up to all healthy $healthy_after s; broker-a back healthy $broker_recovery s after SIGKILL;" \
  "agent back healthy $agent_recovery s after SIGKILL; $MORE_NODES more nodes healthy $scale_healthy_after s after up --scale"
