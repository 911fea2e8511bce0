#!/usr/bin/env python3
"""Checks every golden vector with Python's msgpack: decodes NAME.msgpack, compares each
envelope field with NAME.json, checks frame 1 against the type, and re-packs the decoded
envelope with the writer rules of docs/WIRE.md to the same bytes.

Usage: check_vectors.py [DIR]   (default: the folder of this script). Exit status 1 on any failure.
"""
import glob
import json
import os
import sys
import uuid

import msgpack

from make_vectors import sorted_maps  # the writer's map order, defined once beside the vectors

ORDER = ["v", "id", "t", "ts", "src", "md", "sc", "on", "oi", "seq", "hop", "p"]


def from_json(value):
    if isinstance(value, dict) and set(value) == {"$bytes"}:
        return bytes.fromhex(value["$bytes"])
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def check(path):
    name = os.path.basename(path)[: -len(".msgpack")]
    with open(path, "rb") as f:
        data = f.read()
    with open(path[: -len(".msgpack")] + ".json") as f:
        want = json.load(f)
    got = msgpack.unpackb(data, raw=False, strict_map_key=True)
    problems = []
    if not isinstance(got, dict):
        return [f"{name}: envelope is not a map"]
    if list(got) != [k for k in ORDER if k in got]:
        problems.append(f"{name}: keys {list(got)} are not in the writer's order")
    if want["frame1"] != got.get("t"):
        problems.append(f"{name}: frame 1 {want['frame1']!r} != t {got.get('t')!r}")
    for key in ORDER:
        if key not in want:
            if key in got:
                problems.append(f"{name}: unexpected field {key}")
            continue
        if key not in got:
            problems.append(f"{name}: missing field {key}")
            continue
        value = got[key]
        expected = want[key]
        if key == "id":
            if not isinstance(value, bytes) or len(value) != 16:
                problems.append(f"{name}: id is not 16 bytes")
            elif str(uuid.UUID(bytes=value)) != expected:
                problems.append(f"{name}: id {uuid.UUID(bytes=value)} != {expected}")
        elif key == "p":
            if value != from_json(expected):
                problems.append(f"{name}: payload differs: {value!r} != {from_json(expected)!r}")
        elif value != expected or type(value) is not type(expected):
            problems.append(f"{name}: {key} = {value!r}, expected {expected!r}")
    if got.get("v") != 1:
        problems.append(f"{name}: version {got.get('v')!r} != 1")
    repacked = {k: (sorted_maps(got[k]) if k in ("md", "p") else got[k]) for k in ORDER if k in got}
    if msgpack.packb(repacked, use_bin_type=True) != data:
        problems.append(f"{name}: re-packing does not give the same bytes")
    return problems


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    vectors = sorted(glob.glob(os.path.join(folder, "*.msgpack")))
    if not vectors:
        print(f"no vectors in {folder}")
        return 1
    passed = failed = 0
    for path in vectors:
        problems = check(path)
        if problems:
            failed += 1
            for problem in problems:
                print("FAIL", problem)
        else:
            passed += 1
            print("ok  ", os.path.basename(path))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
