#!/usr/bin/env python3
"""A small EventMesh client written from docs/WIRE.md, with pyzmq and msgpack.

It joins a running mesh through brokers (`mesh broker`) or as a peer of nodes that bind their
outbound socket, publishes events and receives them:

    client = MeshClient(node_id="py", brokers=["tcp://127.0.0.1:5555,tcp://127.0.0.1:5556"],
                        subscribe=["provider.>"])
    client.start()
    client.ready(timeout=10)                 # own probes back through every broker
    client.publish("provider.connected", {"provider": "anthropic"})
    event = client.receive(timeout=5)        # an Event, or None
    client.close()

The command line is a thin layer over the class: `python3 mesh_client.py publish|tail --help`.
"""
import argparse
import collections
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
import uuid

import msgpack
import zmq

VERSION = 1
ENVELOPE_KEYS = ["v", "id", "t", "ts", "src", "md", "sc", "on", "oi", "seq", "hop", "p"]
CONTROL_PREFIX = "_mesh."
PROBE = "_mesh.probe"
HELLO = "_mesh.hello"
HEARTBEAT = "_mesh.hb"
NODE_LEFT = "_mesh.node.left"
PROBE_INTERVAL = 0.05  # a new probe round every 50 ms until ready
DEFAULT_BROKER = "tcp://127.0.0.1:5555,tcp://127.0.0.1:5556"


class WireError(Exception):
    """A message that does not follow docs/WIRE.md."""


# MARK: Ids


class IdMinter:
    """UUIDv7-shaped ids, as EventMesh mints them: 48 bits of Unix milliseconds, the version
    nibble 7, a 16-bit counter split around the variant bits, and 58 random bits drawn once.
    Ids from one minter are strictly increasing, even if the clock steps back; the process
    has one (`IDS`), as a Swift process does."""

    def __init__(self):
        self._last = 0  # (milliseconds << 16) | counter of the last id
        self._random = secrets.randbits(58)
        self._lock = threading.Lock()

    def next(self):
        """A fresh id: 16 bytes, big-endian."""
        with self._lock:
            floor = (time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF) << 16
            self._last = state = max(floor, self._last + 1)
        high = (state & 0xFFFF_FFFF_FFFF_0000) | 0x7000 | ((state >> 4) & 0x0FFF)
        low = 0x8000_0000_0000_0000 | ((state & 0xF) << 58) | self._random
        return high.to_bytes(8, "big") + low.to_bytes(8, "big")


IDS = IdMinter()


# MARK: Encoding and decoding


def sorted_maps(value):
    """The value with every map's keys in ascending order (of their UTF-8 bytes, which for str
    is code point order), recursively: the writer's rule for payloads and metadata."""
    if isinstance(value, dict):
        return {key: sorted_maps(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [sorted_maps(item) for item in value]
    return value


def encode_envelope(envelope):
    """Frame 2 of an event: the envelope's keys in the table's order, optional keys omitted
    when empty, payload and metadata maps sorted, smallest integer widths (msgpack's packer
    picks them), str as str and bytes as bin."""
    ordered = {}
    for key in ENVELOPE_KEYS:
        value = envelope.get(key)
        if key in ("src", "md", "sc") and not value:
            continue
        if key in ("on", "oi", "seq", "p") and value is None:
            continue
        if key == "hop" and not value:
            continue
        ordered[key] = sorted_maps(value) if key in ("md", "p") else value
    return msgpack.packb(ordered, use_bin_type=True)


def _unique_keys(pairs):
    """A map from MessagePack key-value pairs; a key that appears twice is an error."""
    result = {}
    for key, value in pairs:
        if not isinstance(key, str):
            raise WireError(f"map key {key!r} is not a string")
        if key in result:
            raise WireError(f"key {key!r} appears twice")
        result[key] = value
    return result


def unpack_map(body):
    """Frame 2 as a dict: string keys only, no key twice, nothing after the value."""
    try:
        value = msgpack.unpackb(body, raw=False, strict_map_key=True, object_pairs_hook=_unique_keys)
    except WireError:
        raise
    except Exception as error:  # msgpack raises several kinds for malformed input
        raise WireError(f"not one MessagePack value: {error}") from None
    if not isinstance(value, dict):
        raise WireError("frame 2 is not a map")
    return value


class Event:
    """A received event: the decoded envelope, with readable names."""

    def __init__(self, envelope, raw):
        self.envelope = envelope  # the decoded map, keys as on the wire
        self.raw = raw            # frame 2 as received
        self.id = envelope["id"]
        self.type = envelope["t"]
        self.timestamp_ns = envelope["ts"]
        self.source = envelope.get("src", "")
        self.metadata = envelope.get("md", {})
        self.scope = envelope.get("sc", [])
        self.origin = (envelope["on"], envelope["oi"]) if "on" in envelope else None
        self.sequence = envelope.get("seq")
        self.hops = envelope.get("hop", 0)
        self.data = envelope.get("p")

    @property
    def id_text(self):
        return str(uuid.UUID(bytes=self.id))


def decode_event(frame1, body):
    """Checks and decodes an event message (docs/WIRE.md, "The envelope")."""
    envelope = unpack_map(body)
    for key, kind in (("v", int), ("id", bytes), ("t", str), ("ts", int)):
        if key not in envelope:
            raise WireError(f"missing required key {key!r}")
        if not isinstance(envelope[key], kind) or isinstance(envelope[key], bool):
            raise WireError(f"{key!r} has the wrong type")
    if envelope["v"] != VERSION:
        raise WireError(f"unsupported version {envelope['v']}")
    if len(envelope["id"]) != 16:
        raise WireError(f"id is {len(envelope['id'])} bytes, not 16")
    if envelope["t"].encode() != frame1:
        raise WireError(f"frame 1 {frame1!r} differs from t {envelope['t']!r}")
    if ("on" in envelope) != ("oi" in envelope):
        raise WireError("'on' and 'oi' must come together")
    return Event(envelope, body)


# MARK: Patterns


def pattern_prefix(pattern):
    """The literal prefix of a subscription pattern: `provider.>` -> `provider.`, `>` -> ``."""
    tokens = pattern.split(".")
    if "*" not in tokens and ">" not in tokens:
        return pattern
    prefix = ""
    for token in tokens:
        if token in ("*", ">"):
            break
        prefix += token + "."
    return prefix


def pattern_matches(pattern, event_type):
    """NATS-style matching: `*` is one token, a last `>` one or more."""
    tokens, parts = pattern.split("."), event_type.split(".")
    for index, token in enumerate(tokens):
        if token == ">":
            return len(parts) > index
        if index >= len(parts) or (token != "*" and token != parts[index]):
            return False
    return len(parts) == len(tokens)


def prefixes_for(patterns):
    """The prefixes the SUB socket subscribes to: the patterns' literal prefixes plus `_mesh.`,
    none covered by another (`[""]` when one pattern starts with a wildcard)."""
    candidates = {pattern_prefix(p) for p in patterns} | {CONTROL_PREFIX}
    if "" in candidates:
        return {""}
    return {p for p in candidates if not any(o != p and p.startswith(o) for o in candidates)}


# MARK: The client


class MeshClient:
    """One node of the mesh: an outbound XPUB socket (connected to every broker's publish side
    and, for a peer mesh, bound where peers connect) and an inbound SUB socket (connected to
    every broker's subscribe side and every peer's bound endpoint).

    Not thread-safe: use it from one thread. It does its housekeeping (heartbeats, readiness
    probes, answering peers' subscriptions) whenever `ready`, `receive` or `publish` runs.
    """

    def __init__(self, node_id=None, brokers=(), bind=None, peers=(), subscribe=(), heartbeat_ms=1000):
        self.node_id = node_id or socket.gethostname() or "node"
        self.incarnation = secrets.randbits(64) or 1
        self.origin = (self.node_id, self.incarnation)
        self.brokers = [tuple(part.strip() for part in address.split(",")) for address in brokers]
        if any(len(address) != 2 for address in self.brokers):
            raise ValueError("a broker is PUBLISH_ENDPOINT,SUBSCRIBE_ENDPOINT")
        self.bind = bind
        self.peers = list(peers)
        self.patterns = list(subscribe)
        self.prefixes = prefixes_for(self.patterns)
        self.heartbeat_interval = heartbeat_ms / 1000 if heartbeat_ms > 0 else None
        self.bound_endpoint = None
        self.stats = collections.Counter()
        self._sequences = {}                        # event type -> last sequence number sent
        self._inbox = collections.deque()           # events received while waiting for something else
        self._recent_ids = collections.OrderedDict()  # dedup by id, bounded
        self._subscriptions = collections.Counter()   # prefixes subscribed at our bound socket
        self._probe_nonce = None
        self._probe_copies = collections.Counter()  # prefix -> own probes of this round back
        self._hellos = collections.defaultdict(set)  # prefix -> peer origins that said hello
        self._next_probe = 0.0
        self._next_heartbeat = 0.0
        self._is_ready = False
        self._context = None

    # Lifecycle

    def start(self):
        """Makes the sockets, binds and connects. Returns immediately."""
        self._context = zmq.Context()
        self._outbound = self._context.socket(zmq.XPUB)
        if self.bind:
            # Every subscription message, so that each subscriber gets its hello.
            self._outbound.setsockopt(zmq.XPUB_VERBOSE, 1)
            self._outbound.bind(self.bind)
            self.bound_endpoint = self._outbound.getsockopt_string(zmq.LAST_ENDPOINT)
        self._inbound = self._context.socket(zmq.SUB)
        for prefix in sorted(self.prefixes):
            self._inbound.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        for publish, subscribe in self.brokers:
            self._outbound.connect(publish)
            self._inbound.connect(subscribe)
        for peer in self.peers:
            self._inbound.connect(peer)
        self._poller = zmq.Poller()
        self._poller.register(self._inbound, zmq.POLLIN)
        self._poller.register(self._outbound, zmq.POLLIN)
        self._is_ready = not self.brokers and not self.peers
        self._next_heartbeat = time.monotonic() + (self.heartbeat_interval or 0)

    def close(self, linger_ms=1000):
        """Sends a last heartbeat and `_mesh.node.left`, then waits at most `linger_ms` for
        queued messages to leave."""
        if self._context is None:
            return
        if self.heartbeat_interval:
            self._send_heartbeat()
        self._send_control(NODE_LEFT, {"on": self.node_id, "oi": self.incarnation})
        self._outbound.close(linger=linger_ms)
        self._inbound.close(linger=0)
        self._context.term()
        self._context = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # Readiness

    @property
    def is_ready(self):
        return self._is_ready

    def ready(self, timeout):
        """Waits until every subscribed prefix is live on every path: own probes back through
        every broker, and a hello from every peer. Returns whether that happened in time."""
        deadline = time.monotonic() + timeout
        while not self._is_ready:
            now = time.monotonic()
            if now >= deadline:
                return False
            self._pump(min(deadline, self._next_probe if self.brokers else deadline) - now)
        return True

    def wait_for_subscribers(self, event_type, count, timeout):
        """Waits until `count` subscriptions that match `event_type` have reached the bound
        socket (a peer publisher's way to know someone listens). Returns whether they did."""
        deadline = time.monotonic() + timeout
        while self._matching_subscriptions(event_type) < count:
            now = time.monotonic()
            if now >= deadline:
                return False
            self._pump(deadline - now)
        return True

    def _matching_subscriptions(self, event_type):
        return sum(n for prefix, n in self._subscriptions.items() if event_type.startswith(prefix))

    def _check_ready(self):
        complete = all(
            self._probe_copies[prefix] >= len(self.brokers) and len(self._hellos[prefix]) >= len(self.peers)
            for prefix in self.prefixes)
        if complete:
            self._is_ready = True

    # Publishing

    def publish(self, event_type, data=None, source="", metadata=None, scope=None, timestamp_ns=None):
        """Sends one event; returns its 16-byte id. The event carries this client's origin and
        the next sequence number for (origin, type), starting at 1."""
        if event_type.startswith("_") or "\0" in event_type or not event_type:
            raise ValueError(f"{event_type!r} is not an event type")
        sequence = self._sequences.get(event_type, 0) + 1
        self._sequences[event_type] = sequence
        event_id = IDS.next()
        body = encode_envelope({
            "v": VERSION, "id": event_id, "t": event_type,
            "ts": time.time_ns() if timestamp_ns is None else timestamp_ns,
            "src": source, "md": metadata or {}, "sc": list(scope or []),
            "on": self.node_id, "oi": self.incarnation, "seq": sequence, "p": data,
        })
        self._outbound.send_multipart([event_type.encode(), body])
        self.stats["published"] += 1
        self._pump(0)
        return event_id

    def last_sequence(self, event_type):
        return self._sequences.get(event_type, 0)

    # Receiving

    def receive(self, timeout):
        """The next event that matches a subscribed pattern (deduplicated by id, never one of
        this client's own), or None when `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        while not self._inbox:
            now = time.monotonic()
            if now >= deadline:
                return None
            self._pump(deadline - now)
        return self._inbox.popleft()

    # Housekeeping

    def _pump(self, seconds):
        """Sends what is due (probes, heartbeats), then handles what arrives for at most
        `seconds` (returns early once something arrived)."""
        now = time.monotonic()
        if not self._is_ready and self.brokers and now >= self._next_probe:
            self._send_probes()
            self._next_probe = now + PROBE_INTERVAL
        if self.heartbeat_interval and now >= self._next_heartbeat:
            self._send_heartbeat()
            self._next_heartbeat = now + self.heartbeat_interval
        if self.heartbeat_interval:
            seconds = min(seconds, max(0.0, self._next_heartbeat - now))
        events = dict(self._poller.poll(max(0, int(seconds * 1000))))
        if self._outbound in events:
            self._answer_subscriptions()
        if self._inbound in events:
            while True:
                try:
                    frames = self._inbound.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                self._handle(frames)

    def _send_probes(self):
        """One probe per subscribed prefix, the same nonce for the round: frame 1 is
        PREFIX NUL `_mesh.probe`, so it comes back only through a live subscription."""
        self._probe_nonce = secrets.randbits(64) or 1
        self._probe_copies.clear()
        body = msgpack.packb({"on": self.node_id, "oi": self.incarnation, "n": self._probe_nonce})
        for prefix in self.prefixes:
            self._outbound.send_multipart([prefix.encode() + b"\0" + PROBE.encode(), body])

    def _send_heartbeat(self):
        latest = {event_type: self._sequences[event_type] for event_type in sorted(self._sequences)}
        self._send_control(HEARTBEAT, {"on": self.node_id, "oi": self.incarnation, "seq": latest})

    def _send_control(self, kind, body):
        self._outbound.send_multipart([kind.encode(), msgpack.packb(body, use_bin_type=True)])

    def _answer_subscriptions(self):
        """Reads subscription messages from the XPUB; when bound (peer mesh), answers each
        subscription with a hello on that prefix."""
        while True:
            try:
                message = self._outbound.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if not message or not self.bind:
                continue
            prefix = message[1:]
            if message[0] == 0:
                # Without XPUB_VERBOSER only the last unsubscription of a prefix arrives.
                self._subscriptions.pop(prefix.decode(errors="replace"), None)
                continue
            self._subscriptions[prefix.decode(errors="replace")] += 1
            hello = msgpack.packb({"on": self.node_id, "oi": self.incarnation})
            self._outbound.send_multipart([prefix + b"\0" + HELLO.encode(), hello])

    def _handle(self, frames):
        if len(frames) != 2:
            self.stats["malformed"] += 1
            return
        frame1, body = frames
        try:
            if b"\0" in frame1:
                self._handle_readiness(frame1, body)
            elif frame1.startswith(CONTROL_PREFIX.encode()):
                self.stats["control"] += 1  # heartbeats, node left: not needed here
            else:
                self._handle_event(decode_event(frame1, body))
        except WireError as error:
            self.stats["malformed"] += 1
            print(f"mesh_client: malformed message dropped: {error}", file=sys.stderr)

    def _handle_readiness(self, frame1, body):
        prefix, _, kind = frame1.partition(b"\0")
        prefix, kind = prefix.decode(errors="replace"), kind.decode(errors="replace")
        if kind not in (PROBE, HELLO):
            return  # a kind this version does not know
        message = unpack_map(body)
        sender = (message.get("on"), message.get("oi"))
        if kind == PROBE and sender == self.origin and message.get("n") == self._probe_nonce:
            self._probe_copies[prefix] += 1
        elif kind == HELLO and sender != self.origin:
            self._hellos[prefix].add(sender)
        self._check_ready()

    def _handle_event(self, event):
        self.stats["received"] += 1
        if event.origin == self.origin:
            self.stats["own_echoes"] += 1
            return
        # A prefix subscription can let in types no pattern matches: check exactly.
        if not any(pattern_matches(p, event.type) for p in self.patterns):
            self.stats["filtered"] += 1
            return
        if event.id in self._recent_ids:
            self.stats["duplicates"] += 1  # the same event through another broker or peer
            return
        self._recent_ids[event.id] = None
        if len(self._recent_ids) > 100_000:
            self._recent_ids.popitem(last=False)
        self.stats["delivered"] += 1
        self._inbox.append(event)


# MARK: Command line


def to_json(value):
    """A payload as JSON-ready data; bytes become {"$bytes": HEX}."""
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_json(item) for item in value]
    return value


def from_json(value):
    """The inverse of to_json: {"$bytes": HEX} becomes bytes."""
    if isinstance(value, dict) and set(value) == {"$bytes"}:
        return bytes.fromhex(value["$bytes"])
    if isinstance(value, dict):
        return {key: from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return value


def same(a, b):
    """Equal values of equal types, recursively (so 1 != 1.0 and True != 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def check_event(event, expected):
    """Compares every envelope field with `expected` (JSON: v, id as UUID text, t, ts, src, md,
    sc, on, oi, seq, hop, p; absent optional fields as their empty value). Also checks the key
    order and that this module's writer gives back the very bytes received. Returns the list of
    mismatches, empty if none."""
    problems = []
    envelope = event.envelope
    if list(envelope) != [key for key in ENVELOPE_KEYS if key in envelope]:
        problems.append(f"keys {list(envelope)} are not in the order of docs/WIRE.md")
    empty = {"src": "", "md": {}, "sc": [], "hop": 0, "seq": None, "on": None, "oi": None, "p": None}
    for key in ENVELOPE_KEYS:
        got = envelope.get(key, empty.get(key))
        want = from_json(expected.get(key, empty.get(key)))
        if key == "id":
            want = uuid.UUID(want).bytes
        if key in empty and key in envelope and same(envelope[key], empty[key]):
            problems.append(f"{key}: present with its empty value {envelope[key]!r}; writers omit it")
        if not same(got, want):
            problems.append(f"{key}: got {to_json(got)!r}, expected {to_json(want)!r}")
    if encode_envelope(envelope) != event.raw:
        problems.append("re-encoding the envelope does not give the bytes received")
    return problems


def event_json(event):
    return {
        "id": event.id_text, "type": event.type, "timestamp": event.timestamp_ns,
        "source": event.source, "metadata": event.metadata, "scope": event.scope,
        "origin": None if event.origin is None else {
            "node": event.origin[0], "incarnation": event.origin[1],
            "sequence": event.sequence, "hops": event.hops},
        "data": to_json(event.data),
    }


def emit(args, record, text):
    print(json.dumps(record, sort_keys=True) if args.json else text, flush=True)


def make_client(args, patterns):
    brokers = args.broker
    if brokers is None:
        from_environment = os.environ.get("MESH_BROKERS")
        brokers = [b for b in from_environment.split(";") if b] if from_environment else []
        if not brokers and not args.bind and not args.peer:
            brokers = [DEFAULT_BROKER]
    return MeshClient(node_id=args.node_id or os.environ.get("MESH_NODE_ID"), brokers=brokers,
                      bind=args.bind, peers=args.peer or [], subscribe=patterns,
                      heartbeat_ms=args.heartbeat_ms)


def start(args, client):
    """Starts the client and waits for readiness; False (after a message) if it never came."""
    client.start()
    if not args.no_wait and not client.ready(args.ready_timeout):
        print(f"mesh_client: not ready after {args.ready_timeout} s (brokers {client.brokers}, "
              f"peers {client.peers}): is the mesh running?", file=sys.stderr)
        return False
    emit(args, {"kind": "ready", "node": client.node_id, "incarnation": client.incarnation,
                "bound": client.bound_endpoint, "ready": client.is_ready},
         f"node {client.node_id} ready" + (f"; bound {client.bound_endpoint}" if client.bound_endpoint else ""))
    return True


def run_publish(args):
    data = from_json(json.loads(args.data)) if args.data else None
    metadata = dict(item.split("=", 1) for item in args.meta or [])
    client = make_client(args, [])
    try:
        if not start(args, client):
            return 2
        wanted = args.subscribers if args.subscribers is not None else (1 if args.bind and not client.brokers else 0)
        if wanted and not client.wait_for_subscribers(args.type, wanted, args.ready_timeout):
            print(f"mesh_client: no subscriber of {args.type} reached {client.bound_endpoint} "
                  f"within {args.ready_timeout} s", file=sys.stderr)
            return 2
        interval = 1 / args.rate if args.rate else 0
        for _ in range(args.count):
            timestamp = time.time_ns()
            event_id = client.publish(args.type, data, source=args.source, metadata=metadata, timestamp_ns=timestamp)
            emit(args, {"kind": "published", "id": str(uuid.UUID(bytes=event_id)), "type": args.type, "ts": timestamp,
                        "on": client.node_id, "oi": client.incarnation, "seq": client.last_sequence(args.type)},
                 f"published {args.type} {uuid.UUID(bytes=event_id)}")
            if interval:
                client.receive(interval)  # paces, and keeps the housekeeping going
    finally:
        client.close()
    return 0


def run_tail(args):
    expected = json.loads(args.expect) if args.expect else None
    client = make_client(args, [args.pattern])
    try:
        if not start(args, client):
            return 2
        deadline = time.monotonic() + args.timeout if args.timeout else None
        received = 0
        while args.count is None or received < args.count:
            left = 3600.0 if deadline is None else deadline - time.monotonic()
            event = client.receive(max(0.0, left))
            if event is None:
                if deadline is not None and time.monotonic() >= deadline:
                    print(f"mesh_client: {received} event(s) within {args.timeout} s", file=sys.stderr)
                    return 2
                continue
            received += 1
            node = event.origin[0] if event.origin else "?"
            data = "" if event.data is None else " " + json.dumps(to_json(event.data), sort_keys=True)
            emit(args, {"kind": "event", "event": event_json(event)}, f"{event.type} {event.id_text} from {node}{data}")
            if expected is not None:
                problems = check_event(event, expected)
                for problem in problems:
                    print(f"mesh_client: mismatch: {problem}", file=sys.stderr)
                if problems:
                    return 1
                emit(args, {"kind": "checked", "id": event.id_text}, f"checked {event.id_text}: every field as expected")
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    return 0


def main(argv=None):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--broker", action="append", metavar="PUB,SUB",
                        help="a broker's publish and subscribe endpoints (repeatable; default MESH_BROKERS "
                             f"or {DEFAULT_BROKER} when neither --bind nor --peer is given)")
    common.add_argument("--bind", metavar="ENDPOINT", help="bind the outbound socket here for peers (peer mesh)")
    common.add_argument("--peer", action="append", metavar="ENDPOINT", help="a peer's bound endpoint (repeatable)")
    common.add_argument("--node-id", help="this node's id (default MESH_NODE_ID or the host name)")
    common.add_argument("--heartbeat-ms", type=int, default=1000, help="heartbeat interval; 0 for none (default 1000)")
    common.add_argument("--ready-timeout", type=float, default=10, help="seconds to wait for readiness (default 10)")
    common.add_argument("--no-wait", action="store_true", help="do not wait for readiness")
    common.add_argument("--json", action="store_true", help="print NDJSON instead of plain lines")

    parser = argparse.ArgumentParser(description="A Python EventMesh client (docs/WIRE.md).")
    commands = parser.add_subparsers(dest="command", required=True)
    publish = commands.add_parser("publish", parents=[common], help="publish events, then exit")
    publish.add_argument("type", help="the event type, e.g. provider.connected")
    publish.add_argument("--data", help='the payload as JSON ({"$bytes": HEX} for bytes)')
    publish.add_argument("--source", default="", help="who publishes")
    publish.add_argument("--meta", action="append", metavar="KEY=VALUE", help="metadata (repeatable)")
    publish.add_argument("--count", type=int, default=1, help="how many events (default 1)")
    publish.add_argument("--rate", type=float, help="events per second (default: as fast as possible)")
    publish.add_argument("--subscribers", type=int,
                         help="first wait for this many matching subscriptions at --bind "
                              "(default 1 with --bind and no broker, else 0)")
    tail = commands.add_parser("tail", parents=[common], help="print events as they arrive")
    tail.add_argument("pattern", nargs="?", default=">", help="which events ('*' one token, '>' the rest; default '>')")
    tail.add_argument("--count", type=int, help="exit after this many events")
    tail.add_argument("--timeout", type=float, help="exit with status 2 if --count events have not come in this many seconds")
    tail.add_argument("--expect", metavar="JSON",
                      help="check every envelope field of each event against this JSON; exit 1 on a mismatch")
    args = parser.parse_args(argv)
    # SIGTERM closes the client as Ctrl-C does (a last heartbeat, then _mesh.node.left).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    return run_publish(args) if args.command == "publish" else run_tail(args)


if __name__ == "__main__":
    sys.exit(main())
