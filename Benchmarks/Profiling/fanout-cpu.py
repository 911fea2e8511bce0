#!/usr/bin/env python3
"""CPU time per event of every thread of a `mesh bench fanout` run, from /proc.

Usage: Benchmarks/Profiling/fanout-cpu.py [--raw] [--peer] RATE [MESH]
  RATE   events per second for the one publisher, e.g. 100000 (or 100k)
  MESH   the mesh binary (default: .build/release/mesh, resolved)
  --raw  measure the same traffic over bare libzmq as well: the bench runs the mesh, then raw
         libzmq (`--raw`), and the two are measured alike, one after the other
  --peer the peer topology (`--topology peer`): no broker; the bench's own process (still
         listed as "broker") then only runs the control channel

Runs `MESH bench fanout --rate RATE --duration 14` (1 publisher, 1 subscriber, 1 broker in the
bench's own process), reads utime + stime of every thread of the three processes at 5 s and
again at 11 s, and prints each thread's CPU microseconds per event published in between, the
sum per process and the total, then the subscriber's line of the bench's table (check that it
lost nothing: with loss, the figures are not per delivered event). Each thread's line also
gives its context switches per event (from /proc/PID/task/TID/status): "waiting" when it
blocked (a poll, a lock, a sleep), "preempted" when the scheduler switched it out. Threads are
named by the kernel (`ZMQbg/IO/0` is libzmq's I/O thread); the others are told apart by their
share (the publishing thread and the node I/O threads carry the most).

With --raw, the raw run's window starts 5 s after its workers (started with `--raw`) appear;
the bench's own process hosts the broker in both runs (the mesh's `Broker`, then `zmq_proxy`),
and only threads alive at both snapshots of a window count.
"""
import os
import subprocess
import sys
import time


def main():
    arguments = sys.argv[1:]
    raw = "--raw" in arguments
    peer = "--peer" in arguments
    arguments = [argument for argument in arguments if argument not in ("--raw", "--peer")]
    if not arguments or arguments[0].startswith("-"):
        sys.exit(__doc__)
    text = arguments[0].lower()
    try:
        rate = float(text[:-1]) * 1000 if text.endswith("k") else float(text)
    except ValueError:
        sys.exit(f"RATE must be a number of events per second (100000 or 100k), not {arguments[0]!r}")
    mesh = os.path.realpath(arguments[1] if len(arguments) > 1 else ".build/release/mesh")
    if not os.access(mesh, os.X_OK):
        sys.exit(f"no mesh binary at {mesh}: build it with `swift build -c release --product mesh`")
    command = [mesh, "bench", "fanout", "--rate", str(int(rate)), "--duration", "14"] + (["--raw"] if raw else []) \
        + (["--topology", "peer"] if peer else [])
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(5)
    mesh_window = measure(mesh, rate, raw=False)
    raw_window = None
    if raw:
        deadline = time.monotonic() + 60
        while not any("--raw" in key[2] for key in snapshot(mesh)):
            if time.monotonic() > deadline or run.poll() is not None:
                run.kill()
                sys.exit("the raw run's workers never started")
            time.sleep(0.1)
        time.sleep(5)
        raw_window = measure(mesh, rate, raw=True)
    output, _ = run.communicate()
    if raw:
        print("mesh:")
    report(mesh_window)
    if raw_window:
        print("raw libzmq:")
        report(raw_window)
    for line in output.splitlines():
        if line.startswith("sub-0") or line.startswith("node") or line.startswith("raw") or line.startswith("mesh"):
            print(line)


def measure(mesh, rate, raw):
    """Snapshots the threads of one run (the mesh's, or with raw=True the raw run's) 6 s apart;
    returns (first, second, events published in between)."""
    def current():
        return {key: value for key, value in snapshot(mesh).items() if ("--raw" in key[2]) == raw or value[0] == "broker"}
    first = current()
    window = 6.0
    time.sleep(window)
    return first, current(), rate * window


def report(measured):
    """Prints each thread's CPU and context switches per event, the sums and the total."""
    first, second, events = measured
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {}
    rows = []
    switches = 0.0
    for key, (role, comm, used, voluntary, involuntary) in second.items():
        if key not in first:
            continue
        micros = (used - first[key][2]) / ticks / events * 1e6
        totals[role] = totals.get(role, 0.0) + micros
        gave_up = (voluntary - first[key][3]) / events
        preempted = (involuntary - first[key][4]) / events
        switches += gave_up + preempted
        rows.append((role, micros, comm, key[1], gave_up, preempted))
    for role, micros, comm, tid, gave_up, preempted in sorted(rows, key=lambda row: (row[0], -row[1])):
        if micros >= 0.05:
            print(f"{role:12} {comm:18} tid {tid:>7}  {micros:5.2f} µs/event"
                  f"  switches/event: {gave_up:.3f} waiting, {preempted:.3f} preempted")
    print("per process:", ", ".join(f"{role} {value:.2f}" for role, value in sorted(totals.items())),
          f"; total {sum(totals.values()):.2f} µs/event, {switches:.3f} context switches/event")


def snapshot(mesh):
    """(pid, tid, command line) -> (role, thread name, utime + stime in clock ticks, voluntary and involuntary
    context switches) for the bench's processes."""
    threads = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = open(f"/proc/{pid}/cmdline").read().split("\0")
        except OSError:
            continue
        if not command or os.path.realpath(command[0]) != mesh or command[1:3] not in (["bench", "fanout"], ["bench", "worker"]):
            continue
        joined = " ".join(command)
        role = "broker" if "fanout" in joined else ("publisher" if "--role publisher" in joined else "subscriber")
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                stat = open(f"/proc/{pid}/task/{tid}/stat").read()
                status = open(f"/proc/{pid}/task/{tid}/status").read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            counts = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            threads[(pid, tid, joined)] = (role, comm, int(fields[11]) + int(fields[12]),
                                   int(counts["voluntary_ctxt_switches"]), int(counts["nonvoluntary_ctxt_switches"]))
    return threads


if __name__ == "__main__":
    main()
