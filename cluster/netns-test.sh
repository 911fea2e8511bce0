#!/usr/bin/env bash
# Multi-host tests of the mesh in Linux network namespaces: a broker, a publisher and three
# subscribers, each a real `mesh` process in a namespace of its own, joined by veth pairs to a
# Linux bridge that lives in one more namespace (so no firewall rule of the root namespace, such
# as dockerd's, sees their traffic). Three faults, each first proven to have happened:
#
#   1. random packet drop on s1's link (iptables statistic / nft numgen): TCP retransmits, so
#      every subscriber delivers every event exactly once; the latency tail it causes is printed;
#   2. a slow link to s2 (tc tbf well below the publish rate) with small high-water marks: s2
#      delivers some events and counts every other one as lost (delivered + lost == published,
#      lost > 0); s1 and s3 lose nothing;
#   3. a partition of s3 (all its traffic dropped) until s3 logs a disconnect, then heal: s3
#      reconnects, resubscribes, receives new events within a deadline and counts every event
#      published during the partition as lost (delivered + lost == published).
#
# Everything it creates (namespaces, the bridge, veth pairs, rules, processes, a temporary
# directory) is removed on exit, also on failure; leftovers of an earlier run that died are
# removed first. Run `cluster/netns-test.sh --help` for the options.
set -u -o pipefail

readonly PREFIX=emnt
readonly SUBNET=10.231.0
readonly BROKER_IP=$SUBNET.1
readonly CONTROL=tcp://127.0.0.1:7000
readonly HEARTBEAT_MS=200
readonly POLL=0.1

usage() {
  cat <<'EOF'
Usage: cluster/netns-test.sh [--mesh PATH] [options]

Runs a broker, a publisher and three subscribers as `mesh` processes in network namespaces
joined by a bridge (in a namespace of its own) and checks what the mesh promises under three
faults: random packet drop (nothing lost or duplicated), a slow link with small high-water marks
(every missed event counted: delivered + lost == published) and a partition longer than the
connection timeout, then healed (the node reconnects and counts the partition's events as lost).
Needs root, ip (iproute2), tc, iptables or nft, and jq. Takes about 50 s, most of it the
partition: a node finds a dead connection by TCP keepalive (10 s idle, then 3 probes 5 s apart).

Options:
  --mesh PATH          the mesh binary (default: $MESH_BINARY, else .build/release/mesh,
                       else .build/debug/mesh)
  --tests LIST         which tests to run, e.g. 1,3 (default 1,2,3)
  --firewall KIND      iptables or nft (default: iptables if present, else nft)
  --brokers N          1 or 2 brokers side by side; every node connects to all (default 1)
  --dedup on|off       passed to the subscribers (off shows that the exactly-once check fails
                       when events arrive on two paths: use with --brokers 2)
  --no-faults          install no fault (shows that the "fault happened" checks fail)
  --keep-logs          keep the run's log directory and print its path
  -h, --help           this text

Exit status: 0 if every check passed, 1 if a check failed (named in the last line), 2 if the
script cannot run here (not root, a tool missing, bad option).
EOF
}

# --- options -------------------------------------------------------------------------------

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$script_dir/.." && pwd)
mesh=""
tests="1,2,3"
firewall=""
brokers=1
dedup=on
faults=1
keep_logs=0

die_usage() { echo "netns-test: $*" >&2; echo "Try: cluster/netns-test.sh --help" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --mesh) [ $# -ge 2 ] || die_usage "--mesh needs a path"; mesh=$2; shift 2 ;;
    --mesh=*) mesh=${1#*=}; shift ;;
    --tests) [ $# -ge 2 ] || die_usage "--tests needs a list"; tests=$2; shift 2 ;;
    --firewall) [ $# -ge 2 ] || die_usage "--firewall needs iptables or nft"; firewall=$2; shift 2 ;;
    --brokers) [ $# -ge 2 ] || die_usage "--brokers needs 1 or 2"; brokers=$2; shift 2 ;;
    --dedup) [ $# -ge 2 ] || die_usage "--dedup needs on or off"; dedup=$2; shift 2 ;;
    --no-faults) faults=0; shift ;;
    --keep-logs) keep_logs=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die_usage "unknown argument: $1" ;;
  esac
done
case "$brokers" in 1|2) ;; *) die_usage "--brokers must be 1 or 2" ;; esac
case "$dedup" in on|off) ;; *) die_usage "--dedup must be on or off" ;; esac
[[ "$tests" =~ ^[123](,[123])*$ ]] || die_usage "--tests takes numbers 1 to 3, e.g. 1,3"

if [ -z "$mesh" ]; then
  if [ -n "${MESH_BINARY:-}" ]; then mesh=$MESH_BINARY
  elif [ -x "$repo/.build/release/mesh" ]; then mesh=$repo/.build/release/mesh
  else mesh=$repo/.build/debug/mesh
  fi
fi

# --- preflight -----------------------------------------------------------------------------

missing=()
[ "$(id -u)" = 0 ] || { echo "netns-test: must run as root (network namespaces, bridges, firewall rules)" >&2; exit 2; }
command -v ip >/dev/null || missing+=("ip (apt-get install iproute2)")
command -v tc >/dev/null || missing+=("tc (apt-get install iproute2)")
command -v jq >/dev/null || missing+=("jq (apt-get install jq)")
command -v mkfifo >/dev/null || missing+=("mkfifo (coreutils)")
if [ -z "$firewall" ]; then
  if command -v iptables >/dev/null; then firewall=iptables
  elif command -v nft >/dev/null; then firewall=nft
  else missing+=("iptables or nft (apt-get install iptables, or nftables)")
  fi
fi
case "$firewall" in
  iptables|nft|"") ;;
  *) die_usage "--firewall must be iptables or nft" ;;
esac
if [ -n "$firewall" ] && ! command -v "$firewall" >/dev/null; then
  missing+=("$firewall (apt-get install $([ "$firewall" = nft ] && echo nftables || echo iptables))")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "netns-test: missing tools: ${missing[*]}" >&2
  exit 2
fi
[ -x "$mesh" ] || { echo "netns-test: no mesh binary at $mesh (build it: swift build -c release; or pass --mesh PATH or set MESH_BINARY)" >&2; exit 2; }
mesh=$(cd "$(dirname "$mesh")" && pwd)/$(basename "$mesh")
# The processes are configured by their options only: no MESH_* variable of the caller's.
for variable in $(compgen -e | grep '^MESH_'); do unset "$variable"; done

# --- output, waiting, names and the network (cluster/netns-lib.sh) -------------------------

SCRIPT_TAG=netns-test
hosts=(broker pub s1 s2 s3)
declare -A host_ip=([broker]=$BROKER_IP [pub]=$SUBNET.2 [s1]=$SUBNET.11 [s2]=$SUBNET.12 [s3]=$SUBNET.13)
# shellcheck source=cluster/netns-lib.sh
. "$script_dir/netns-lib.sh"


# --- processes -----------------------------------------------------------------------------

broker_args=()
start_brokers() {
  local hwm=$1 i
  broker_args=()
  for ((i = 0; i < brokers; i++)); do
    local pub_port=$((5555 + 10 * i)) sub_port=$((5556 + 10 * i)) control_port=$((5557 + 10 * i))
    ip netns exec "$(ns broker)" "$mesh" broker --publish-bind "tcp://0.0.0.0:$pub_port" --subscribe-bind "tcp://0.0.0.0:$sub_port" \
      --control "tcp://127.0.0.1:$control_port" --hwm "$hwm" --stats-interval 0 \
      > "$logs/$test_name-broker$i.out" 2> "$logs/$test_name-broker$i.err" &
    broker_args+=(--broker "tcp://$BROKER_IP:$pub_port,tcp://$BROKER_IP:$sub_port")
    wait_until 10 "broker $i bound (mesh health tcp://127.0.0.1:$control_port in $(ns broker))" \
      in_ns broker "$mesh" health "tcp://127.0.0.1:$control_port" --quiet --timeout-ms 500
  done
}

# start_node HOST NODE_ID [mesh node options...]: a node answering on $CONTROL in its namespace;
# stdout (NDJSON) to $logs/TEST-HOST.out, or through a reader that stamps each line with the
# wall-clock time when STAMP=1.
start_node() {
  local host=$1 id=$2; shift 2
  local out="$logs/$test_name-$host.out" err="$logs/$test_name-$host.err"
  local args=(node "${broker_args[@]}" --node-id "$id" --control "$CONTROL" --heartbeat-ms "$HEARTBEAT_MS" --json "$@")
  # ip is started directly (not through in_ns) so that $! is the mesh process itself.
  if [ "${STAMP:-0}" = 1 ]; then
    local fifo="$logs/$test_name-$host.fifo"
    mkfifo "$fifo"
    (while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done < "$fifo" > "$out") &
    ip netns exec "$(ns "$host")" "$mesh" "${args[@]}" > "$fifo" 2> "$err" &
  else
    ip netns exec "$(ns "$host")" "$mesh" "${args[@]}" > "$out" 2> "$err" &
  fi
  node_pid[$host]=$!
}
declare -A node_pid=()

node_ready() { in_ns "$1" "$mesh" health "$CONTROL" --quiet --timeout-ms 500; }
wait_ready() {
  local host
  for host in "$@"; do
    wait_until 15 "node in $host ready (its subscriptions live on every broker)" node_ready "$host"
  done
}

# Pids of the processes in the namespaces of the hosts.
host_pids() {
  local host
  for host in "${hosts[@]}"; do ip netns pids "$(ns "$host")" 2>/dev/null; done | tr '\n' ' '
}
no_host_pids() { [ -z "$(host_pids | tr -d ' ')" ]; }

# Stops every mesh process of the current test (SIGTERM, then SIGKILL after 5 s).
stop_processes() {
  local pids
  pids=$(host_pids)
  if [ -n "${pids// /}" ]; then
    kill -TERM $pids 2>/dev/null
    local i
    for ((i = 0; i < 50; i++)); do
      no_host_pids && break
      sleep "$POLL"
    done
    pids=$(host_pids)
    [ -z "${pids// /}" ] || kill -KILL $pids 2>/dev/null
  fi
  wait 2>/dev/null
  node_pid=()
}

stats() { in_ns "$1" "$mesh" stats "$CONTROL" --timeout-ms 1000; }
# origin_counts HOST ORIGIN: "delivered lost duplicates tooOld" of that origin at HOST's node.
origin_counts() {
  stats "$1" | jq -r --arg o "$2" \
    '[.bridge.origins[] | select(.node == $o) | .counts] | if length == 0 then "0 0 0 0"
     else (map(.delivered) | add | tostring) + " " + (map(.lost) | add | tostring) + " "
        + (map(.duplicates) | add | tostring) + " " + (map(.tooOld) | add | tostring) end'
}
published_by() { stats "$1" | jq -r '.bridge.published'; }

# delivered_all HOST ORIGIN TOTAL: true once delivered == TOTAL.
delivered_all() {
  local counts
  counts=$(origin_counts "$1" "$2") || return 1
  set -- $counts "$3"
  last_state="delivered $1, lost $2, duplicates $3, too-old $4"
  [ "$1" -ge "$5" ]
}
# settled HOST ORIGIN TOTAL: delivered + lost == TOTAL, and delivered unchanged since the last
# call (nothing still draining).
declare -A last_delivered=()
settled() {
  local counts key="$1/$2"
  counts=$(origin_counts "$1" "$2") || return 1
  set -- $counts "$3"
  local previous=${last_delivered[$key]:-x}
  last_delivered[$key]=$1
  last_state="delivered $1, lost $2, duplicates $3, too-old $4"
  [ $(($1 + $2)) -eq "$5" ] && [ "$previous" = "$1" ]
}
published_at_least() { local n; n=$(published_by "$1") || return 1; [ "$n" -ge "$2" ]; }

# Events of TYPE printed by a node: "lines unique-ids".
printed() {
  local file=$1 type=$2
  sed 's/^[0-9.]* {/{/' "$file" | jq -r --arg t "$type" 'select(.kind == "event" and .event.type == $t) | .event.id' \
    | awk '{ n++; if (!seen[$0]++) u++ } END { printf "%d %d\n", n, u }'
}

# --- faults --------------------------------------------------------------------------------

# fw_drop HOST PROBABILITY: drop that share of HOST's packets (both directions, not loopback);
# 1 drops everything.
fw_drop() {
  local host=$1 p=$2
  [ "$faults" = 1 ] || { say "(--no-faults: no rule installed on $host)"; return 0; }
  if [ "$firewall" = iptables ]; then
    local match=()
    [ "$p" = 1 ] || match=(-m statistic --mode random --probability "$p")
    in_ns "$host" iptables -w -I INPUT 1 ! -i lo "${match[@]}" -j DROP || fail "iptables rule in $host"
    in_ns "$host" iptables -w -I OUTPUT 1 ! -o lo "${match[@]}" -j DROP || fail "iptables rule in $host"
  else
    local cond=""
    [ "$p" = 1 ] || cond="numgen random mod 1000 < $(awk -v p="$p" 'BEGIN { printf "%d", p * 1000 }')"
    in_ns "$host" nft -f - <<EOF || fail "nft rules in $host"
table inet $PREFIX {
  chain input { type filter hook input priority -10; policy accept; iif != "lo" $cond counter drop; }
  chain output { type filter hook output priority -10; policy accept; oif != "lo" $cond counter drop; }
}
EOF
  fi
}

# Packets the drop rules of HOST have dropped so far.
fw_dropped() {
  local host=$1
  if [ "$firewall" = iptables ]; then
    { in_ns "$host" iptables -w -L INPUT -v -n -x; in_ns "$host" iptables -w -L OUTPUT -v -n -x; } 2>/dev/null \
      | awk '$3 == "DROP" { s += $1 } END { print s + 0 }'
  else
    in_ns "$host" nft list table inet "$PREFIX" 2>/dev/null \
      | awk '{ for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1) } END { print s + 0 }'
  fi
}

fw_dropped_some() { [ "$(fw_dropped "$1")" -gt 0 ]; }

fw_clear() {
  local host=$1
  if [ "$firewall" = iptables ]; then
    in_ns "$host" iptables -w -F INPUT && in_ns "$host" iptables -w -F OUTPUT
  else
    in_ns "$host" nft delete table inet "$PREFIX" 2>/dev/null || true
  fi
}

# TCP segments retransmitted in HOST's namespace so far.
retransmits() {
  in_ns "$1" cat /proc/net/snmp | awk '$1 == "Tcp:" { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RetransSegs") c = i; h = 1 } else print $c }'
}

# --- test 1: random packet drop ------------------------------------------------------------

test_drop() {
  test_name=drop
  local count=1500 rate=500 p=0.10 host
  say "test 1: random drop of $(awk -v p="$p" 'BEGIN { print p * 100 }')% of s1's packets (both directions); $count events at $rate/s"
  check "1 drop: start"
  start_brokers 100000
  STAMP=1 start_node s1 s1 --subscribe 'test.>' --dedup "$dedup"
  STAMP=1 start_node s2 s2 --subscribe 'test.>' --dedup "$dedup"
  start_node s3 s3 --subscribe 'test.>' --dedup "$dedup"
  wait_ready s1 s2 s3
  local retrans_before
  retrans_before=$(( $(retransmits broker) + $(retransmits s1) ))
  fw_drop s1 "$p"
  local t0=$EPOCHREALTIME
  start_node pub pub-drop --publish test.drop --count "$count" --rate "$rate"
  local total=$count
  check "1 drop: publisher"
  wait_until 30 "publisher published $total events" published_at_least pub "$total"
  check "1 drop: exactly once"
  for host in s1 s2 s3; do
    wait_until 30 "$host delivered all $total events of pub-drop" delivered_all "$host" pub-drop "$total"
  done
  local elapsed
  elapsed=$(since "$t0")
  check "1 drop: fault happened"
  local dropped retrans
  dropped=$(fw_dropped s1)
  retrans=$(( $(retransmits broker) + $(retransmits s1) - retrans_before ))
  [ "$dropped" -gt 0 ] || fail "the drop rules in $(ns s1) dropped no packet (rule counters 0)"
  say "fault: $dropped packets dropped by the $firewall rules in s1; $retrans TCP segments retransmitted (broker and s1)"
  check "1 drop: exactly once"
  # Every subscriber: every event delivered once, nothing lost, none delivered twice.
  for host in s1 s2 s3; do
    wait_until 10 "$host: delivered + lost == $total and settled" settled "$host" pub-drop "$total"
    read -r d l dup old <<< "$(origin_counts "$host" pub-drop)"
    read -r lines unique <<< "$(printed "$logs/drop-$host.out" test.drop)"
    say "$host: delivered $d lost $l duplicates-dropped $dup too-old $old; printed $lines test.drop events, $unique distinct ids"
    [ "$d" -eq "$total" ] || fail "$host delivered $d events of pub-drop, published $total"
    [ "$l" -eq 0 ] || fail "$host counted $l events of pub-drop lost (TCP should have retransmitted them)"
    [ "$lines" -eq "$count" ] && [ "$unique" -eq "$count" ] \
      || fail "$host printed $lines test.drop events with $unique distinct ids; expected $count of each (exactly once)"
  done
  # The latency tail: wall-clock arrival (stamped as each line was read) minus the event's
  # timestamp (the publisher's wall clock; one kernel, so one clock).
  local lat lat_s1=""
  for host in s1 s2; do
    lat=$(grep '"type":"test\.drop"' "$logs/drop-$host.out" \
      | sed -n 's/^\([0-9.]*\) .*"ts":\([0-9]*\).*$/\1 \2/p' \
      | awk '{ printf "%.3f\n", ($1 - $2 / 1e9) * 1000 }' | sort -n \
      | awk '{ v[NR] = $1 } END { if (NR == 0) { print "no samples"; exit }
              printf "p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms (%d events)", v[int(NR * 0.5) + (NR * 0.5 > int(NR * 0.5))], v[int(NR * 0.9 + 0.999)], v[int(NR * 0.99 + 0.999)], v[NR], NR }')
    say "latency at $host$([ "$host" = s1 ] && echo " (lossy link)" || echo " (clean link)"): $lat"
    [ "$host" = s1 ] && lat_s1=$lat
  done
  say "all $total events at all three subscribers $elapsed s after the publisher started (nominal $(awk -v c="$count" -v r="$rate" 'BEGIN { printf "%.1f", c / r }') s)"
  fw_clear s1
  stop_processes
  say "test 1 passed: 0 lost, 0 delivered twice, at every subscriber"
  summary+=("1 random drop of $(awk -v p="$p" 'BEGIN { print p * 100 }')% at s1: $dropped packets dropped, $total events, lost 0, delivered twice 0; latency at s1: $lat_s1")
}

# --- test 2: slow link ----------------------------------------------------------------------

test_slow() {
  test_name=slow
  local count=3000 rate=1500 broker_hwm=1000 hwm=100 link_rate=1mbit host
  local pad
  pad=$(printf 'x%.0s' $(seq 1 300))
  say "test 2: s2's link limited to $link_rate (tc tbf on the bridge port toward s2), HWM $broker_hwm at the broker, $hwm at s2; $count events of ~450 B at $rate/s"
  check "2 slow: start"
  start_brokers "$broker_hwm"
  start_node s1 s1 --subscribe 'test.>' --dedup "$dedup"
  start_node s2 s2 --subscribe 'test.>' --dedup "$dedup" --hwm "$hwm"
  start_node s3 s3 --subscribe 'test.>' --dedup "$dedup"
  wait_ready s1 s2 s3
  if [ "$faults" = 1 ]; then
    ip netns exec "$bridge_ns" tc qdisc add dev p-s2 root tbf rate "$link_rate" burst 10kb latency 20ms \
      || fail "tc tbf on p-s2 (kernel module sch_tbf)"
  else
    say "(--no-faults: no tbf installed)"
  fi
  # One event type only: a node counts losses per (origin, type) from the first event of that
  # type it receives, so a lone marker event of another type dropped at the full queue would
  # be counted nowhere.
  start_node pub pub-slow --publish test.slow --count "$count" --rate "$rate" --data "{\"pad\":\"$pad\"}"
  local total=$count t0=$EPOCHREALTIME
  check "2 slow: publisher"
  wait_until 30 "publisher published $total events" published_at_least pub "$total"
  check "2 slow: others unaffected"
  for host in s1 s3; do
    wait_until 20 "$host delivered all $total events of pub-slow" delivered_all "$host" pub-slow "$total"
  done
  check "2 slow: every event accounted at s2"
  wait_until 40 "s2: delivered + lost == $total for pub-slow, nothing still draining" settled s2 pub-slow "$total"
  local drain
  drain=$(since "$t0")
  check "2 slow: fault happened"
  local qdisc dropped overlimits
  qdisc=$(ip netns exec "$bridge_ns" tc -s qdisc show dev p-s2)
  dropped=$(awk '/dropped/ { for (i = 1; i <= NF; i++) if ($i == "(dropped") { gsub(",", "", $(i + 1)); print $(i + 1) } }' <<< "$qdisc" | head -1)
  overlimits=$(awk '/overlimits/ { for (i = 1; i <= NF; i++) if ($i == "overlimits") { print $(i + 1) } }' <<< "$qdisc" | head -1)
  [ "${dropped:-0}" -gt 0 ] || fail "tc reports no packet dropped by tbf on the link to s2: $(echo $qdisc)"
  say "fault: tbf on the link to s2 dropped $dropped packets, overlimits $overlimits"
  check "2 slow: every event accounted at s2"
  read -r d l dup old <<< "$(origin_counts s2 pub-slow)"
  read -r lines unique <<< "$(printed "$logs/slow-s2.out" test.slow)"
  say "s2: delivered $d + lost $l = $((d + l)) (published $total); duplicates-dropped $dup, too-old $old; printed $lines test.slow events, $unique distinct ids; settled ${drain} s after the publisher started"
  [ $((d + l)) -eq "$total" ] || fail "s2: delivered $d + lost $l != published $total"
  [ "$l" -gt 0 ] || fail "s2 lost nothing: the slow link did not overflow the high-water marks"
  [ "$lines" -eq "$unique" ] || fail "s2 printed $lines test.slow events but only $unique distinct ids (a duplicate)"
  check "2 slow: others unaffected"
  for host in s1 s3; do
    read -r d1 l1 dup1 old1 <<< "$(origin_counts "$host" pub-slow)"
    read -r lines1 unique1 <<< "$(printed "$logs/slow-$host.out" test.slow)"
    say "$host: delivered $d1 lost $l1 duplicates-dropped $dup1; printed $lines1 events, $unique1 distinct ids"
    [ "$d1" -eq "$total" ] && [ "$l1" -eq 0 ] || fail "$host: delivered $d1, lost $l1 (expected $total and 0)"
    [ "$lines1" -eq "$count" ] && [ "$unique1" -eq "$count" ] || fail "$host printed $lines1 events, $unique1 distinct ids (expected $count)"
  done
  ip netns exec "$bridge_ns" tc qdisc del dev p-s2 root 2>/dev/null
  stop_processes
  say "test 2 passed: s2 delivered $d and counted $l lost of $total; s1 and s3 lost nothing"
  summary+=("2 slow link $link_rate: tbf dropped $dropped packets; s2 delivered $d + lost $l == $total published; s1, s3 delivered $total, lost 0")
}

# --- test 3: partition, then heal -----------------------------------------------------------

# newest_n FILE: the "n" of the last event of type test.part printed by a node.
newest_n() { grep '"type":"test.part"' "$1" | tail -n 1 | jq -r '.event.data.n' 2>/dev/null; }
received_after() { local n; n=$(newest_n "$1") && [ -n "$n" ] && [ "$n" != null ] && [ "$n" -gt "$2" ]; }
logged_disconnect() { grep -q 'disconnected' "$1"; }

test_partition() {
  test_name=part
  local rate=100 host
  say "test 3: partition of s3 (all its packets dropped) until it notices, then heal; events at $rate/s throughout"
  check "3 partition: start"
  start_brokers 100000
  start_node s1 s1 --subscribe 'test.>' --dedup "$dedup"
  start_node s2 s2 --subscribe 'test.>' --dedup "$dedup"
  start_node s3 s3 --subscribe 'test.>' --dedup "$dedup"
  wait_ready s1 s2 s3
  start_node pub pub-part --publish test.part --count 1000000 --rate "$rate"
  local pub_pid=${node_pid[pub]}
  wait_until 15 "s3 receiving events before the partition" received_after "$logs/part-s3.out" 20
  check "3 partition: fault happened"
  local t_part=$EPOCHREALTIME
  fw_drop s3 1
  local before_partition
  before_partition=$(published_by pub)
  say "partition of s3 from now (publisher at event $before_partition)"
  wait_until 5 "the partition rules in $(ns s3) drop packets (rule counters > 0)" fw_dropped_some s3
  # The node notices: its inbound connection is declared dead (TCP keepalive: 10 s idle, then
  # 3 probes 5 s apart, as the mesh configures its sockets).
  wait_until 45 "s3 logs a disconnect during the partition" logged_disconnect "$logs/part-s3.err"
  local noticed
  noticed=$(since "$t_part")
  local dropped
  dropped=$(fw_dropped s3)
  say "s3 noticed after $noticed s: $(grep -m1 disconnected "$logs/part-s3.err" | sed 's/^[^ ]* //')"
  say "fault: $dropped packets dropped by the partition rules in s3"
  local at_heal
  at_heal=$(published_by pub)
  fw_clear s3
  local t_heal=$EPOCHREALTIME partition_length
  partition_length=$(awk -v a="$t_part" -v b="$t_heal" 'BEGIN { printf "%.1f", b - a }')
  say "healed after $partition_length s of partition (publisher at event $at_heal)"
  check "3 partition: recovery"
  wait_until 30 "s3 receives an event published after the heal (n > $at_heal)" received_after "$logs/part-s3.out" "$at_heal"
  local recovery
  recovery=$(since "$t_heal")
  say "s3 received events published after the heal $recovery s after it"
  say "s3 log since the partition: $(sed -n '/disconnected/,$p' "$logs/part-s3.err" \
    | sed -n 's/^\([^ ]*\) .*direction=\([a-z]*\) endpoint=\([^ ]*\) .*\] \(.*\)$/\1 \2 \3 \4/p' | paste -sd ';' | sed 's/;/; /g')"
  # It keeps receiving: 100 more events (1 s at the publishing rate).
  local first_after
  first_after=$(newest_n "$logs/part-s3.out")
  wait_until 10 "s3 receives 100 more events after recovering" received_after "$logs/part-s3.out" $((first_after + 100))
  # Stop publishing; the publisher's stats on exit say how many it published.
  kill -TERM "$pub_pid" 2>/dev/null
  wait_until 10 "publisher exits after SIGTERM" eval "! kill -0 $pub_pid 2>/dev/null"
  local total
  total=$(jq -r 'select(.kind == "stats") | .stats.bridge.published' "$logs/part-pub.out")
  [ -n "$total" ] || fail "the publisher printed no stats on exit"
  check "3 partition: every event accounted at s3"
  wait_until 20 "s3: delivered + lost == $total for pub-part" settled s3 pub-part "$total"
  read -r d l dup old <<< "$(origin_counts s3 pub-part)"
  read -r lines unique <<< "$(printed "$logs/part-s3.out" test.part)"
  # Events published while s3 was cut off can never have reached it.
  local during=$((at_heal - before_partition)) leaked
  leaked=$(grep '"type":"test.part"' "$logs/part-s3.out" | jq -r '.event.data.n' \
    | awk -v a="$before_partition" -v b="$at_heal" '$1 > a && $1 <= b' | wc -l)
  say "s3: delivered $d + lost $l = $((d + l)) (published $total); $during published during the partition, $leaked of them delivered; duplicates-dropped $dup; printed $lines, $unique distinct ids"
  [ $((d + l)) -eq "$total" ] || fail "s3: delivered $d + lost $l != published $total"
  [ "$l" -ge "$during" ] || fail "s3 counted $l lost, fewer than the $during events published during the partition"
  [ "$leaked" -eq 0 ] || fail "s3 delivered $leaked events published while it was partitioned"
  [ "$lines" -eq "$unique" ] && [ "$lines" -eq "$d" ] || fail "s3 printed $lines events with $unique distinct ids, delivered $d"
  check "3 partition: others unaffected"
  for host in s1 s2; do
    wait_until 10 "$host delivered all $total events of pub-part" delivered_all "$host" pub-part "$total"
    read -r d1 l1 dup1 old1 <<< "$(origin_counts "$host" pub-part)"
    say "$host: delivered $d1 lost $l1"
    [ "$d1" -eq "$total" ] && [ "$l1" -eq 0 ] || fail "$host: delivered $d1, lost $l1 (expected $total and 0)"
  done
  stop_processes
  say "test 3 passed: s3 noticed after $noticed s, recovered $recovery s after the heal, counted $l lost"
  summary+=("3 partition of s3 for $partition_length s: $dropped packets dropped; noticed after $noticed s; events after heal received in $recovery s; s3 delivered $d + lost $l == $total published (>= $during published during the partition); s1, s2 lost 0")
}

# --- main ----------------------------------------------------------------------------------

clean_stale
logs=$(mktemp -d "/tmp/$PREFIX-$$.XXXXXX")
say "mesh: $mesh; firewall: $firewall; brokers: $brokers; dedup: $dedup; tests: $tests; heartbeat ${HEARTBEAT_MS} ms"
make_network
summary=()
IFS=, read -r -a selected <<< "$tests"
for t in "${selected[@]}"; do
  case "$t" in
    1) test_drop ;;
    2) test_slow ;;
    3) test_partition ;;
  esac
done
echo "summary:"
for line in "${summary[@]}"; do echo "  $line"; done
