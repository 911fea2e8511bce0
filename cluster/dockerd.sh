#!/usr/bin/env bash
# Starts a Docker engine for the cluster tests when none answers, and stops only the one it
# started.
#
#   cluster/dockerd.sh start   # exit 0 once `docker info` answers (an engine already running is used as it is)
#   cluster/dockerd.sh stop    # stops the engine `start` started, if any; leaves any other alone
#
# The engine it starts keeps its data in DOCKER_DATA_ROOT (default /var/lib/eventmesh-docker),
# its pid in DOCKER_PID_FILE (default /run/eventmesh-dockerd.pid), its log in DOCKER_LOG
# (default /tmp/eventmesh-dockerd.log). Needs root and dockerd (Debian: apt-get install docker.io).
set -euo pipefail

DATA_ROOT=${DOCKER_DATA_ROOT:-/var/lib/eventmesh-docker}
PID_FILE=${DOCKER_PID_FILE:-/run/eventmesh-dockerd.pid}
LOG=${DOCKER_LOG:-/tmp/eventmesh-dockerd.log}
TIMEOUT=${DOCKER_START_TIMEOUT:-60}

fail() { echo "error: $*" >&2; exit 1; }

case "${1:-}" in
start)
    if docker info >/dev/null 2>&1; then
        echo "== a Docker engine is running already; using it"
        exit 0
    fi
    [ "$(id -u)" = 0 ] || fail "starting dockerd needs root"
    command -v dockerd >/dev/null || fail "dockerd not found (Debian: apt-get install docker.io)"
    echo "== starting dockerd (data root $DATA_ROOT, pid file $PID_FILE, log $LOG)"
    mkdir -p "$DATA_ROOT"
    dockerd --data-root "$DATA_ROOT" --pidfile "$PID_FILE" >"$LOG" 2>&1 &
    deadline=$((SECONDS + TIMEOUT))
    until docker info >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 20 "$LOG" >&2 || true
            fail "dockerd did not answer within $TIMEOUT s (log: $LOG)"
        fi
        sleep 0.5
    done
    echo "== dockerd answers"
    ;;
stop)
    [ -s "$PID_FILE" ] || exit 0
    pid=$(cat "$PID_FILE")
    if kill -0 "$pid" 2>/dev/null; then
        echo "== stopping the dockerd this script started (pid $pid)"
        kill "$pid"
        deadline=$((SECONDS + 30))
        while kill -0 "$pid" 2>/dev/null; do
            [ "$SECONDS" -lt "$deadline" ] || { kill -9 "$pid" 2>/dev/null || true; break; }
            sleep 0.2
        done
    fi
    rm -f "$PID_FILE"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 64
    ;;
esac
