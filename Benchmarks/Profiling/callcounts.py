#!/usr/bin/env python3
"""Per-event call counts from two callgrind profiles of EventBusProfile.

Usage: callcounts.py SMALL.out SMALL_EVENTS LARGE.out LARGE_EVENTS [CALLEE,...]

With CALLEE names (e.g. swift_retain,swift_release), it also lists who calls each of them and
how often per event, as it does for the allocators.

The two profiles run the same workload for a different number of events; subtracting the
small one from the large one removes every fixed cost (process start, setup, warm-up), so
the figures printed are exact counts per event: instructions, heap allocations, reference
counting and exclusivity-check calls, and which functions allocate.
"""
import re
import subprocess
import sys
from collections import Counter

WATCHED = [
    "malloc", "free", "swift_allocObject", "swift_allocBox",
    "swift_retain", "swift_release", "swift_bridgeObjectRetain", "swift_bridgeObjectRelease",
    "swift_beginAccess", "pthread_mutex_lock", "pthread_getspecific", "clock_gettime",
]
ALLOCATORS = ["swift_allocObject", "swift_allocBox"]


def load(path):
    """Returns (total instructions, calls per callee, calls per (caller, callee))."""
    names = {}
    calls = Counter()
    edges = Counter()
    total = 0
    current_fn = None
    current_cfn = None

    def name_of(spec):
        match = re.match(r"\((\d+)\)(?: (.*))?", spec)
        if not match:
            return spec
        if match.group(2) is not None:
            names[match.group(1)] = match.group(2)
        return names.get(match.group(1), spec)

    with open(path) as handle:
        for line in handle:
            if line.startswith("summary:"):
                total = int(line.split()[1])
            elif line.startswith("fn="):
                current_fn = name_of(line[3:].strip())
            elif line.startswith("cfn="):
                current_cfn = name_of(line[4:].strip())
            elif line.startswith("calls="):
                count = int(line[6:].split()[0])
                calls[current_cfn] += count
                edges[(current_fn, current_cfn)] += count
    return total, calls, edges


def demangle(symbols):
    symbols = list(symbols)
    try:
        output = subprocess.run(
            ["swift", "demangle", "--simplified"], input="\n".join(symbols),
            capture_output=True, text=True, check=True).stdout.splitlines()
        return dict(zip(symbols, output))
    except (OSError, subprocess.CalledProcessError):
        return {symbol: symbol for symbol in symbols}


def base(name):
    return re.sub(r"(@@|@)GLIBC.*$", "", name or "")


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    listed = ALLOCATORS + (sys.argv[5].split(",") if len(sys.argv) == 6 else [])
    small_total, small_calls, small_edges = load(sys.argv[1])
    large_total, large_calls, large_edges = load(sys.argv[3])
    events = int(sys.argv[4]) - int(sys.argv[2])

    def per_event(large, small, key):
        return (large.get(key, 0) - small.get(key, 0)) / events

    print(f"instructions/event: {(large_total - small_total) / events:.0f}")
    watched = {}
    for callee in set(large_calls) | set(small_calls):
        if base(callee) in WATCHED:
            watched[base(callee)] = watched.get(base(callee), 0) + per_event(large_calls, small_calls, callee)
    for name in WATCHED:
        print(f"{name:28} {watched.get(name, 0):6.2f} calls/event")

    # A listed callee may be named as the demangler writes it (e.g. "outlined copy of EventValue").
    all_edges = set(large_edges) | set(small_edges)
    callee_names = demangle({callee for _, callee in all_edges}) if len(listed) > len(ALLOCATORS) else {}
    sites = Counter()
    for edge in all_edges:
        name = base(edge[1]) if base(edge[1]) in listed else callee_names.get(edge[1])
        if name in listed:
            count = per_event(large_edges, small_edges, edge)
            if count >= 0.01:
                sites[(edge[0], name)] += count
    if sites:
        readable = demangle({caller for caller, _ in sites})
        for callee in listed:
            found = sorted(((count, caller) for (caller, name), count in sites.items() if name == callee), reverse=True)
            if not found:
                continue
            label = "allocation sites" if callee in ALLOCATORS else "callers"
            print(f"{label} of {callee} (calls/event):")
            for count, caller in found:
                print(f"  {count:5.2f}  {readable.get(caller, caller)}")


if __name__ == "__main__":
    main()
