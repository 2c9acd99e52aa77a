"""The dashid wire protocol for the Python end-to-end tests (docs/protocol.md): frames,
requests and reading one frame. Shared by hostile.py and backpressure.py."""
import socket
import struct

import msgpack


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
