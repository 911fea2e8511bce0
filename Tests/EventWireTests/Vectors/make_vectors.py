#!/usr/bin/env python3
"""Writes the golden vectors of docs/WIRE.md: NAME.msgpack (the envelope, frame 2) and
NAME.json (frame 1 and the expected decoded fields).

Three vectors are packed by Python's msgpack library; `hand_assembled` is written byte by byte
from the spec, without any MessagePack library. Run it with the test virtualenv's Python:
    .venv/bin/python Tests/EventWireTests/Vectors/make_vectors.py
The files are committed; the Swift and Python tests check them, so rerunning must not change
them (`git diff --exit-code Tests/EventWireTests/Vectors` after a run).
"""
import json
import os
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))


def sorted_maps(value):
    """Payload maps with keys in ascending UTF-8 byte order, recursively (docs/WIRE.md)."""
    if isinstance(value, dict):
        return {k: sorted_maps(value[k]) for k in sorted(value, key=lambda k: k.encode("utf-8"))}
    if isinstance(value, list):
        return [sorted_maps(v) for v in value]
    return value


def envelope(fields):
    """The envelope in the writer's key order, optional keys omitted when empty."""
    order = ["v", "id", "t", "ts", "src", "md", "sc", "on", "oi", "seq", "hop", "p"]
    out = {}
    for key in order:
        if key not in fields:
            continue
        value = fields[key]
        if key == "md":
            value = sorted_maps(value)
        if key == "p":
            value = sorted_maps(value)
        out[key] = value
    return out


def to_json(value):
    """JSON form of a payload value: bytes become {"$bytes": "hex"}."""
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def expected(fields):
    out = {"frame1": fields["t"]}
    for key, value in fields.items():
        if key == "id":
            h = value.hex()
            out["id"] = f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        elif key == "p":
            out["p"] = to_json(value)
        else:
            out[key] = value
    return out


def write(name, packed, fields):
    with open(os.path.join(HERE, name + ".msgpack"), "wb") as f:
        f.write(packed)
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(expected(fields), f, indent=2, ensure_ascii=False, sort_keys=True)
        f.write("\n")


def main():
    minimal = {
        "v": 1,
        "id": bytes.fromhex("0192f0c48a1e70008000000000000001"),
        "t": "system.init",
        "ts": 1764398469000000000,
    }
    write("minimal", msgpack.packb(envelope(minimal), use_bin_type=True), minimal)

    full = {
        "v": 1,
        "id": bytes.fromhex("0192f0c48a1e7123b456789abcdef012"),
        "t": "stream.started",
        "ts": 1764398469123456789,
        "src": "provider-manager",
        "md": {"trace": "t-1", "tenant": "acme"},
        "sc": ["providers", "anthropic"],
        "on": "node-a",
        "oi": 0xFEDCBA9876543210,
        "seq": 4294967296,
        "hop": 2,
        "p": {
            "stream_id": "s1",
            "provider": "anthropic",
            "tokens": -42,
            "ratio": 0.25,
            "ok": True,
            "none": None,
            "blob": b"\x00\x01\xfe\xff",
            "text": "héllo, 世界 🌍",
            "nested": {"list": [1, "two", [3.5, False]], "empty": {}},
        },
    }
    write("full", msgpack.packb(envelope(full), use_bin_type=True), full)

    boundaries = {
        "v": 1,
        "id": bytes.fromhex("0192f0c48a1e7fff8fffffffffffffff"),
        "t": "load.boundaries",
        "ts": -1,
        "on": "n",
        "oi": 0,
        "seq": 1,
        "p": {
            "str31": "a" * 31,
            "str32": "b" * 32,
            "str255": "c" * 255,
            "str256": "d" * 256,
            "bin255": b"\xaa" * 255,
            "bin256": b"\xbb" * 256,
            "arr15": list(range(15)),
            "arr16": list(range(16)),
            "map15": {f"k{i:02d}": i for i in range(15)},
            "map16": {f"k{i:02d}": i for i in range(16)},
            "ints": [0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296,
                     9223372036854775807, -1, -32, -33, -128, -129, -32768, -32769,
                     -2147483648, -2147483649, -9223372036854775808],
        },
    }
    write("boundaries", msgpack.packb(envelope(boundaries), use_bin_type=True), boundaries)

    # Assembled by hand from docs/WIRE.md, one field per line.
    hand = bytes.fromhex(
        "86"                                      # map, 6 entries
        "a176" "01"                               # "v": 1
        "a26964" "c410" "0192f0c48a1e70018000000000000abc"  # "id": bin8, 16 bytes
        "a174" "ad" "6167656e742e73746172746564"  # "t": fixstr, "agent.started" (13 bytes)
        "a27473" "cf" "187e8a260c908000"           # "ts": uint64 1765000000000000000 (smallest width for a positive value)
        "a3737263" "a7" "706c616e6e6572"           # "src": "planner"
        "a170" "82" "a4" "6e616d65" "a3" "626f62" "a5" "7374657073" "03"  # "p": {"name": "bob", "steps": 3}
    )
    hand_fields = {
        "v": 1,
        "id": bytes.fromhex("0192f0c48a1e70018000000000000abc"),
        "t": "agent.started",
        "ts": 1765000000000000000,
        "src": "planner",
        "p": {"name": "bob", "steps": 3},
    }
    # The hand-assembled bytes must be what a conforming writer produces.
    assert msgpack.packb(envelope(hand_fields), use_bin_type=True) == hand, "hand-assembled vector disagrees"
    write("hand_assembled", hand, hand_fields)
    return 0


if __name__ == "__main__":
    sys.exit(main())
