"""The dashid wire protocol for the Python end-to-end tests (docs/protocol.md): frames,
requests and reading one frame, and the blob address. Shared by hostile.py, backpressure.py
and the other Python tests."""
import hashlib
import socket
import struct

import msgpack


def blob_address(data, chunk=4 << 20):
    """The chunk-tree address of a blob's bytes, written out from docs/storage.md "Blob
    addresses" (not dashid's code, nor the Python client's)."""
    n = max(1, -(-len(data) // chunk))
    leaves = b"".join(hashlib.blake2b(b"\x00" + struct.pack("<Q", i) + data[i * chunk:(i + 1) * chunk],
                                      digest_size=32).digest() for i in range(n))
    return hashlib.blake2b(b"\x01\x01" + struct.pack("<QQ", len(data), chunk) + leaves, digest_size=32).hexdigest()


def connect(path, timeout=20):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)  # blocking, as dashi's: waits while the daemon's backlog is full
    s.settimeout(timeout)
    return s


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def request(op, args=None, rid=1, v=1):
    return msgpack.packb({"v": v, "id": rid, "op": op, "args": args if args is not None else {}})


def read_frame(s):
    """The next frame, unpacked; None at EOF."""
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf
    hdr = exact(4)
    if hdr is None:
        return None
    body = exact(struct.unpack(">I", hdr)[0])
    return None if body is None else msgpack.unpackb(body, raw=False, strict_map_key=False)


def call(path, op, args=None):
    s = connect(path)
    s.sendall(frame(request(op, args)))
    r = read_frame(s)
    s.close()
    return r
