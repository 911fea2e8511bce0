#!/usr/bin/env bash
# Smoke test of docker-compose.yml: starts the cluster under a project name of its own (with
# NODES replicas of the generic node), waits until every container is healthy, checks that the
# tail service printed events from every role node and that every generic node has its own id
# and received a completed workflow, then takes the cluster down and checks that no container,
# network or volume with the project's label is left. Builds nothing: run `make image` first.
#
# Variables: MESH_IMAGE (default eventmesh:latest), COMPOSE (default docker-compose; or
# "docker compose"), NODES (default 3), HEALTH_TIMEOUT and EVENTS_TIMEOUT in seconds (default
# 120 and 60), MESH_WORKFLOW_INTERVAL (default 1 here).
set -euo pipefail

cd "$(dirname "$0")/.."
export MESH_IMAGE=${MESH_IMAGE:-eventmesh:latest}
export MESH_WORKFLOW_INTERVAL=${MESH_WORKFLOW_INTERVAL:-1}
read -r -a compose <<< "${COMPOSE:-docker-compose}"
NODES=${NODES:-3}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-120}
EVENTS_TIMEOUT=${EVENTS_TIMEOUT:-60}
project="meshsmoke$(date +%s)$$"
label="com.docker.compose.project=$project"

say() { echo "== $*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
c() { "${compose[@]}" -p "$project" "$@"; }

docker info >/dev/null 2>&1 || fail "no Docker engine answers"
docker image inspect "$MESH_IMAGE" >/dev/null 2>&1 || fail "image $MESH_IMAGE not found; run make image first"

finished=0
cleanup() {
  if [ "$finished" = 0 ]; then
    echo "-- last log lines of project $project:" >&2
    c logs --no-color --tail 20 >&2 2>&1 || true
    c down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "project $project, image $MESH_IMAGE, $NODES generic nodes, a workflow every ${MESH_WORKFLOW_INTERVAL} s"
up_started=$(now)
health_deadline=$(( $(date +%s) + HEALTH_TIMEOUT ))
# Compose 1.x waits inside `up` for the brokers and nodes others depend on: the deadline covers it.
timeout "$HEALTH_TIMEOUT" "${compose[@]}" -p "$project" up -d --scale node="$NODES" 2>&1 | sed 's/^/   /' \
  || fail "docker compose up failed or took more than $HEALTH_TIMEOUT s"

# Every container of every service healthy, within the deadline.
services=$(c config --services)
while :; do
  pending=""
  for service in $services; do
    ids=$(c ps -q "$service")
    [ -n "$ids" ] || { pending="$pending $service(no container)"; continue; }
    for id in $ids; do
      status=$(docker inspect -f '{{ if .State.Health }}{{ .State.Health.Status }}{{ else }}{{ .State.Status }}{{ end }}' "$id")
      [ "$status" = healthy ] || pending="$pending $service:${id:0:12}($status)"
    done
  done
  [ -z "$pending" ] && break
  [ "$(date +%s)" -lt "$health_deadline" ] || fail "not healthy within $HEALTH_TIMEOUT s of up:$pending"
  sleep 0.5
done
healthy_after=$(seconds_since "$up_started")
containers=$(c ps -q | wc -l)
say "all $containers containers healthy $healthy_after s after up"

# The tail prints `TYPE ID from NODE DATA`: events from each role node, and completed workflows.
deadline=$(( $(date +%s) + EVENTS_TIMEOUT ))
while :; do
  log=$(c logs --no-color tail 2>/dev/null)
  missing=""
  for origin in provider agent workflow; do
    grep -q " from $origin " <<< "$log" || missing="$missing $origin"
  done
  grep -q "workflow.completed .* from workflow " <<< "$log" || missing="$missing workflow.completed"
  [ -z "$missing" ] && break
  [ "$(date +%s)" -lt "$deadline" ] || fail "the tail printed nothing from:$missing within $EVENTS_TIMEOUT s"
  sleep 0.5
done
lines=$(grep -c " from " <<< "$log" || true)
say "tail: $lines events so far, from$(for o in provider agent workflow; do printf ' %s=%s' "$o" "$(grep -c " from $o " <<< "$log")"; done)"
grep " from " <<< "$log" | sed -n '1,12s/^/   /p'

# Generic nodes: distinct ids (each its container's host name), each received a completed workflow.
ids=""
deadline=$(( $(date +%s) + EVENTS_TIMEOUT ))
for container in $(c ps -q node); do
  hostname=$(docker inspect -f '{{ .Config.Hostname }}' "$container")
  while :; do
    node_log=$(docker logs "$container" 2>/dev/null)
    grep -q "^workflow.completed .* from workflow " <<< "$node_log" && break
    [ "$(date +%s)" -lt "$deadline" ] || fail "node ${container:0:12} received no workflow.completed within $EVENTS_TIMEOUT s"
    sleep 0.5
  done
  id=$(sed -n '/^node [^ ]* ready/{s/^node \([^ ]*\) ready.*/\1/p;q;}' <<< "$node_log")
  [ "$id" = "$hostname" ] || fail "node ${container:0:12} has id '$id', not its host name '$hostname'"
  ids="$ids $id"
done
distinct=$(tr ' ' '\n' <<< "$ids" | sed '/^$/d' | sort -u | wc -l)
[ "$distinct" = "$NODES" ] || fail "expected $NODES distinct generic node ids, got:$ids"
say "generic nodes:$ids (distinct, each received workflow.completed)"

# Down, and nothing left behind.
down_started=$(now)
c down -v --remove-orphans 2>&1 | sed 's/^/   /'
left="$(docker ps -aq --filter "label=$label")$(docker network ls -q --filter "label=$label")$(docker volume ls -q --filter "label=$label")"
[ -z "$left" ] || fail "left after down: $left"
finished=1
say "down in $(seconds_since "$down_started") s; no containers, networks or volumes left with label $label"
say "PASSED: up to all healthy in $healthy_after s"
