# Shared by the network-namespace tests (cluster/netns-test.sh, cluster/netns-bench-test.sh):
# output, waiting with a deadline, and hosts in namespaces joined by a Linux bridge that lives
# in a namespace of its own (so no firewall rule of the root namespace, such as dockerd's, sees
# their traffic). Source it after setting:
#
#   PREFIX       namespace and log-folder prefix of the script (e.g. emnt)
#   SCRIPT_TAG   a word of the script's command line (clean_stale keeps runs still alive)
#   SUBNET       the hosts' /24, as its first three octets (e.g. 10.231.0)
#   POLL         seconds between polls of wait_until
#   hosts        array of host names; host_ip: associative array host -> address
#
# It sets run_id (PREFIX-PID), bridge_ns, start_time and logs (empty until the script makes its
# log folder), defines since, say, fail, check, wait_until, ns, in_ns, kill_in_ns, delete_ns,
# clean_stale and make_network, and installs the exit trap (cleanup): the last lines of each
# *.err log on failure, the script's stop_processes if it defines one, every namespace deleted,
# the logs removed (or kept with keep_logs=1), and a PASS or FAILED line.

start_time=$EPOCHREALTIME
# Seconds since $1 (an EPOCHREALTIME value).
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
say() { printf '[%6.2fs] %s\n' "$(since "$start_time")" "$*"; }
current_check="setup"
failure=""
fail() {
  failure="[$current_check]: $*"
  echo "FAIL $failure" >&2
  exit 1
}
check() { current_check=$1; }

# wait_until SECONDS DESCRIPTION COMMAND...: runs COMMAND every $POLL s until it succeeds;
# fails the current check with DESCRIPTION when SECONDS pass first.
last_state=""
wait_until() {
  local limit=$1 what=$2; shift 2
  last_state=""
  local deadline
  deadline=$(awk -v a="$EPOCHREALTIME" -v s="$limit" 'BEGIN { printf "%.6f", a + s }')
  while :; do
    "$@" && return 0
    if awk -v n="$EPOCHREALTIME" -v d="$deadline" 'BEGIN { exit !(n > d) }'; then
      fail "timed out after ${limit}s waiting for: $what${last_state:+ (last seen: $last_state)}"
    fi
    sleep "$POLL"
  done
}

run_id="$PREFIX-$$"
ns() { echo "$run_id-$1"; }
bridge_ns=$(ns br)
in_ns() { local host=$1; shift; ip netns exec "$(ns "$host")" "$@"; }

# Kills every process inside a namespace (by pid): TERM, then KILL after 3 s.
kill_in_ns() {
  local name=$1 pids i
  pids=$(ip netns pids "$name" 2>/dev/null) || return 0
  [ -n "$pids" ] || return 0
  kill -TERM $pids 2>/dev/null
  for ((i = 0; i < 30; i++)); do
    pids=$(ip netns pids "$name" 2>/dev/null)
    [ -n "$pids" ] || return 0
    sleep "$POLL"
  done
  kill -KILL $pids 2>/dev/null
}

delete_ns() {
  kill_in_ns "$1"
  ip netns delete "$1" 2>/dev/null
}

# Leftovers of runs that died: namespaces and log directories named after a pid that no longer
# runs this script.
clean_stale() {
  local name pid stale=0
  for name in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^$PREFIX-[0-9]*-" ); do
    pid=${name#"$PREFIX"-}; pid=${pid%%-*}
    if [ "$pid" != $$ ] && ! tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -q "$SCRIPT_TAG"; then
      delete_ns "$name"; stale=$((stale + 1))
    fi
  done
  for name in /tmp/"$PREFIX"-*.*; do
    [ -d "$name" ] || continue
    pid=${name#/tmp/"$PREFIX"-}; pid=${pid%%.*}
    [[ "$pid" =~ ^[0-9]+$ ]] || continue   # kept logs (--keep-logs) stay
    if ! tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -q "$SCRIPT_TAG"; then rm -rf "$name"; fi
  done
  [ "$stale" = 0 ] || say "removed $stale namespace(s) left by an earlier run"
}

# The bridge namespace, then one namespace per host with a veth pair to the bridge.
make_network() {
  check "network setup"
  ip netns add "$bridge_ns" || fail "cannot create namespace $bridge_ns"
  ip -n "$bridge_ns" link set lo up
  ip -n "$bridge_ns" link add br0 type bridge || fail "cannot create a bridge (kernel module 'bridge')"
  ip -n "$bridge_ns" link set br0 up
  local host
  for host in "${hosts[@]}"; do
    ip netns add "$(ns "$host")" || fail "cannot create namespace $(ns "$host")"
    # Both ends are created inside namespaces: nothing appears in the root namespace.
    ip -n "$bridge_ns" link add "p-$host" type veth peer name eth0 netns "$(ns "$host")" \
      || fail "cannot create a veth pair (kernel module 'veth')"
    ip -n "$bridge_ns" link set "p-$host" master br0 up
    ip -n "$(ns "$host")" addr add "${host_ip[$host]}/24" dev eth0
    ip -n "$(ns "$host")" link set eth0 up
    ip -n "$(ns "$host")" link set lo up
  done
  say "network: bridge br0 in $bridge_ns; ${hosts[*]} in namespaces $run_id-* on $SUBNET.0/24"
}

# --- cleanup on exit -----------------------------------------------------------------------

logs=""
cleanup() {
  local status=$?
  trap - EXIT HUP INT PIPE TERM
  if [ "$status" != 0 ] && [ -n "$logs" ] && [ -d "$logs" ]; then
    local f
    for f in "$logs"/*.err; do
      [ -s "$f" ] || continue
      echo "-- last lines of $(basename "$f"):" >&2
      tail -n 5 "$f" | sed 's/^/   /' >&2
    done
  fi
  if declare -F stop_processes >/dev/null; then stop_processes; fi
  local host
  for host in "${hosts[@]}" br; do delete_ns "$(ns "$host")"; done
  wait 2>/dev/null
  if [ -n "$logs" ]; then
    if [ "${keep_logs:-0}" = 1 ]; then
      local kept=/tmp/$PREFIX-logs-${logs#/tmp/"$PREFIX"-}
      mv "$logs" "$kept" && echo "logs kept in $kept"
    else
      rm -rf "$logs"
    fi
  fi
  if [ "$status" = 0 ]; then
    echo "PASS: every check passed in $(since "$start_time") s"
  else
    echo "FAILED after $(since "$start_time") s (exit $status)${failure:+ $failure}" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
