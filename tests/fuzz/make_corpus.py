#!/usr/bin/env python3
"""Writes the fuzz seed corpus (tests/fuzz/corpus/): a dozen small framed streams,
valid and invalid. Run once from the repository root; the files are committed."""
import os
import struct

import msgpack

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def req(op, args, rid=1, **extra):
    env = {"v": 1, "id": rid, "op": op, "args": args}
    env.update(extra)
    return msgpack.packb(env, use_bin_type=True)


HASH = "0123456789abcdef" * 4
SEEDS = {
    "ping": frame(req("ping", {})),
    "submit_les": frame(req("submit", {"kind": "les", "n": 64, "steps": 100, "dt": 0.001,
                                       "precision": "f64", "private": False, "seed": -7,
                                       "name": "seed run", "input": HASH}, rid=42)),
    "blob_chunk": frame(req("blob_put", {"hash": HASH, "offset": 0, "data": bytes(range(64))}, rid=3)),
    "two_frames": frame(req("status", {"job": 5}, rid=7)) + frame(req("wait", {"job": 5}, rid=8)),
    "nested_args": frame(req("submit", {"params": {"a": [1, 2.5, [True, None]], "b": {"c": {}}}})),
    "response_ok": frame(msgpack.packb({"v": 1, "id": 9, "ok": True, "result": {"job": 1}})),
    "response_err": frame(msgpack.packb({"v": 1, "id": 9, "ok": False, "error": {
        "code": "E_BAD_VALUE", "message": "steps must be an integer >= 1, got -3", "field": "steps"}})),
    "event": frame(msgpack.packb({"v": 1, "id": 9, "event": {"state": "running", "progress": 0.5}})),
    "bad_version": frame(req("ping", {}, rid=4) .replace(b"\xa1v\x01", b"\xa1v\x02")),
    "extra_key": frame(req("ping", {}, rid=5, trace=True)),
    "huge_array_claim": frame(b"\xdd\xff\xff\xff\xff\xc0"),
    "ext_and_int_key": frame(b"\x82\xa1a\xd4\x01\x00\x01\x02"),
    # empty keys before any other string: msgpack-c gives those a NULL pointer (the
    # duplicate-key check once passed it to memcmp)
    "empty_keys": frame(b"\x86\xa0\x01\xa0\x02\xa1v\x01\xa2id\x01\xa2op\xa4ping\xa4args\x82\xa0\x01\xa0\x02"),
    "truncated_payload": frame(req("ping", {"x": "abcdef"})[:-3]),
    "truncated_stream": frame(req("ping", {"x": "abcdef"}))[:-3],
    "oversized_header": b"\x00\x80\x00\x01" + b"\x80",
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"wrote {len(SEEDS)} seeds to {OUT}")
