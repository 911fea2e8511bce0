#!/usr/bin/env python3
"""Splits a thread's perf samples under one function by the function it calls, or counts the
functions its samples were taken in.

Usage: Benchmarks/Profiling/perf-split.py PERF_DATA THREAD [FUNCTION ...]
  PERF_DATA  a `perf record -g` file, e.g. of a bench worker:
             perf record -e cpu-clock -F 4999 -g -p PID -o PERF_DATA -- sleep 3
  THREAD     the thread to keep: a name (`perf report --sort comm` lists them; a node's I/O
             thread and a publishing thread are both `oot.default-qos` on Linux), or a thread id
             (all digits; `perf report --sort pid` of a `perf record -a` file lists them)
  FUNCTION   a demangled name prefix, e.g. 'MeshBridge.loop(_:)'

For each FUNCTION: how many samples have it on their stack, and the share of them under each
function it calls directly ('(self)' when the sample is in FUNCTION itself). Frames of code
without frame pointers (libzmq, the kernel) can be missing from a stack, so a share is of the
samples whose stack was unwound through FUNCTION.

With no FUNCTION: the thread's samples, and the functions most of them were taken in (the
innermost frame of each), with their counts. Needs perf and `swift demangle`.
"""
import collections
import re
import subprocess
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    data, thread, anchors = sys.argv[1], sys.argv[2], sys.argv[3:]
    selection = ["--tid", thread] if thread.isdigit() else ["--comm", thread]
    script = subprocess.run(["perf", "script", "-i", data, *selection, "-F", "ip,sym"],
                            capture_output=True, text=True, check=True).stdout
    text = subprocess.run(["swift", "demangle", "--simplified"], input=script,
                          capture_output=True, text=True, check=True).stdout
    stacks = []
    for block in text.split("\n\n"):
        frames = [re.sub(r"^[0-9a-f]+ ", "", line.strip()) for line in block.strip().splitlines()]
        if frames:
            stacks.append(frames)
    if not anchors:
        innermost = collections.Counter(frames[0] for frames in stacks)
        print(f"== {len(stacks)} samples")
        for name, count in innermost.most_common(25):
            print(f"{count:7d} {100 * count / len(stacks):5.1f}%  {name[:110]}")
    for anchor in anchors:
        callees = collections.Counter()
        total = 0
        for frames in stacks:
            hits = [index for index, frame in enumerate(frames) if frame.startswith(anchor)]
            if not hits:
                continue
            outermost = hits[-1]
            total += 1
            callees[frames[outermost - 1] if outermost > 0 else "(self)"] += 1
        print(f"== {anchor}: {total} samples")
        for name, count in callees.most_common(12):
            print(f"{100 * count / total:5.1f}%  {name[:110]}")


if __name__ == "__main__":
    main()
