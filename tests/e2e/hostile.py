"""Attacks a running dashid over its real socket with malformed and hostile frames.
Each attack must get an error (or a closed connection), never a crash, and a separate
well-behaved client must keep being served throughout. Framing errors (E_BAD_FRAME, a bad
length header) close the connection; a well-framed bad request leaves it usable.
Usage: hostile.py SOCKET"""
import os
import socket
import struct
import sys
import threading
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashi_wire import call as wire_call, connect as wire_connect, frame, read_frame, request  # noqa: E402

SOCK = sys.argv[1]


def connect():
    return wire_connect(SOCK)


def call(op, args=None):
    return wire_call(SOCK, op, args)


def expect_error(name, data, code, closes):
    """Sends raw bytes; expects an error response with `code` and, if closes, EOF after it."""
    s = connect()
    s.sendall(data)
    if code is None:  # a truncated frame: nothing to answer until the peer gives up
        s.shutdown(socket.SHUT_WR)
        r = read_frame(s)
        assert r is None, f"{name}: expected no answer, got {r}"
    else:
        r = read_frame(s)
        assert r is not None and r.get("ok") is False, f"{name}: expected an error, got {r}"
        assert r["error"]["code"] == code, f"{name}: expected {code}, got {r['error']}"
        if closes:
            assert read_frame(s) is None, f"{name}: connection should be closed"
        else:
            s.sendall(frame(request("ping", rid=7)))
            r2 = read_frame(s)
            assert r2 and r2["ok"] and r2["id"] == 7, f"{name}: connection should stay usable"
    s.close()
    print(f"ok - {name}")


# A well-behaved client pings continuously in the background while the attacks run.
stop = threading.Event()
served = [0]
failures = []


def good_client():
    while not stop.is_set():
        try:
            r = call("ping")
            assert r["ok"], r
            served[0] += 1
        except Exception as e:  # noqa: BLE001 - any failure of the good client is the test's failure
            failures.append(repr(e))
            return
        time.sleep(0.01)


t = threading.Thread(target=good_client, daemon=True)
t.start()

deep = {"a": 1}
for _ in range(20):
    deep = {"x": deep}
huge_array_header = b"\xdd\xff\xff\xff\xff"  # array32 claiming 4 billion entries
expect_error("truncated frame (header promises more)", struct.pack(">I", 100) + b"\x84", None, True)
expect_error("truncated msgpack inside a frame", frame(request("ping")[:-3]), "E_BAD_FRAME", True)
expect_error("oversized length header", struct.pack(">I", 0x7FFFFFFF), "E_TOO_LARGE", True)
expect_error("zero length frame", struct.pack(">I", 0), "E_BAD_FRAME", True)
expect_error("not msgpack", frame(b"\xc1\xc1\xc1\xc1"), "E_BAD_FRAME", True)
expect_error("top level not a map", frame(msgpack.packb([1, 2, 3])), "E_BAD_REQUEST", False)
expect_error("deep nesting", frame(msgpack.packb({"v": 1, "id": 1, "op": "ping", "args": deep})), "E_BAD_FRAME", True)
expect_error("huge declared array", frame(b"\x84\xa1v\x01\xa2id\x01\xa2op\xa4ping\xa4args" + huge_array_header),
             "E_BAD_FRAME", True)
expect_error("wrong protocol version", frame(request("ping", v=99)), "E_VERSION", False)
expect_error("missing op", frame(msgpack.packb({"v": 1, "id": 1, "args": {}})), "E_BAD_REQUEST", False)
expect_error("extra envelope key", frame(msgpack.packb({"v": 1, "id": 1, "op": "ping", "args": {}, "x": 1})),
             "E_BAD_REQUEST", False)
expect_error("unknown op", frame(request("format_disk")), "E_UNKNOWN_OP", False)
expect_error("unknown argument", frame(request("ping", {"verbose": True})), "E_UNKNOWN_FIELD", False)
expect_error("wrong type", frame(request("status", {"id": "seven"})), "E_BAD_TYPE", False)
expect_error("NaN parameter", frame(request("submit", {"kind": "les", "args": {"dt": float("nan")}})),
             "E_BAD_VALUE", False)
expect_error("Inf parameter", frame(request("submit", {"kind": "les", "args": {"nu0": float("inf")}})),
             "E_BAD_VALUE", False)
expect_error("absurd size", frame(request("put_begin", {"size": 2**62})), "E_TOO_LARGE", False)
expect_error("unknown job kind", frame(request("submit", {"kind": "bitcoin", "args": {}})), "E_BAD_VALUE", False)

# executor and slurm_args (docs/protocol.md "submit"): checked before anything is recorded.
for op in ("submit", "sweep"):
    base = {"kind": "les", "args": {}}
    if op == "sweep":
        base["vary"] = {"seed": [0, 1]}
    for name, extra, code in [
            ("executor not a string", {"executor": 5}, "E_BAD_TYPE"),
            ("unknown executor", {"executor": "cloud"}, "E_BAD_VALUE"),
            ("slurm_args not an array", {"executor": "slurm", "slurm_args": "--time=5"}, "E_BAD_TYPE"),
            ("a slurm_arg not a string", {"executor": "slurm", "slurm_args": [5]}, "E_BAD_TYPE"),
            ("65 slurm_args", {"executor": "slurm", "slurm_args": ["-v"] * 65}, "E_TOO_LARGE"),
            ("a 4000-byte slurm_arg", {"executor": "slurm", "slurm_args": ["x" * 4000]}, "E_TOO_LARGE"),
            ("a NUL byte in a slurm_arg", {"executor": "slurm", "slurm_args": ["--time=5\x00; rm -rf /"]}, "E_BAD_VALUE"),
            ("an empty slurm_arg", {"executor": "slurm", "slurm_args": [""]}, "E_BAD_VALUE"),
            ("slurm_args taking --wrap", {"executor": "slurm", "slurm_args": ["--wrap=sh -c id"]}, "E_BAD_VALUE"),
            ("slurm_args abbreviating --array", {"executor": "slurm", "slurm_args": ["--arr=0-99999"]}, "E_BAD_VALUE"),
            ("slurm_args without executor slurm", {"slurm_args": ["--time=5"]}, "E_BAD_VALUE"),
            ("executor slurm without slurm_workdir", {"executor": "slurm"}, "E_SLURM")]:
        expect_error(f"{op}: {name}", frame(request(op, {**base, **extra})), code, False)
    # the frame's own limits (4096 entries an array, 4096 bytes a string) refuse these first, and close
    for name, words in [("10^6 slurm_args", ["-v"] * 10**6), ("a 1 MiB slurm_arg", ["x" * (1 << 20)])]:
        expect_error(f"{op}: {name}", frame(request(op, {**base, "executor": "slurm", "slurm_args": words})),
                     "E_BAD_FRAME", True)

# Slow loris: a frame dribbled one byte at a time is still answered; others are served meanwhile.
s = connect()
data = frame(request("ping", rid=42))
for b in data:
    s.sendall(bytes([b]))
    time.sleep(0.005)
r = read_frame(s)
assert r and r["ok"] and r["id"] == 42, r
s.close()
print("ok - slow partial writes")

# Many connections that send half a frame and hang: the daemon keeps serving.
idle = []
for _ in range(50):
    c = connect()
    c.sendall(struct.pack(">I", 64) + b"\x84\xa1")
    idle.append(c)
assert call("ping")["ok"]
for c in idle:
    c.close()
print("ok - 50 stalled connections")

stop.set()
t.join()
assert not failures, f"the well-behaved client failed: {failures}"
assert served[0] > 0
assert call("ping")["ok"], "daemon no longer answers"
print(f"ok - well-behaved client served {served[0]} times during the attacks")
