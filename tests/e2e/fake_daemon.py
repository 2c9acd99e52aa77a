"""A fake dashid for tests/e2e/test_socket_trust.sh: listens on argv[1], records every byte
it receives into argv[2] and answers each request frame with {"ok": true, "result":
{"fake": true}}. Run as another user, it stands for someone who swapped the socket."""
import os
import socket
import struct
import sys

import msgpack

path, record = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
os.chmod(path, 0o777)  # anyone may connect: the attacker wants victims
srv.listen(8)
open(record, "wb").close()
while True:
    conn, _ = srv.accept()
    buf = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        with open(record, "ab") as f:
            f.write(chunk)
        buf += chunk
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            n = struct.unpack(">I", buf[:4])[0]
            req = msgpack.unpackb(buf[4:4 + n], raw=False)
            buf = buf[4 + n:]
            reply = msgpack.packb({"v": 1, "id": req["id"], "ok": True, "result": {"fake": True}})
            conn.sendall(struct.pack(">I", len(reply)) + reply)
    conn.close()
