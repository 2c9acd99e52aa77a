"""Raw-protocol parts of test_gc.sh: an upload that spans a `gc --apply` (the blob must
survive and verify), and hostile arguments for rm and gc. Usage: gc_ops.py SOCKET DASHI WORK."""
import io
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashi_wire import blob_address, call, connect, frame, read_frame, request  # noqa: E402

sock, dashi, work = sys.argv[1:4]


def rpc(s, op, args, rid):
    s.sendall(frame(request(op, args, rid=rid)))
    r = read_frame(s)
    assert r is not None and r.get("id") == rid, r
    return r


# An upload in progress while gc --apply runs: its temporary file must be left alone.
buf = io.BytesIO()
np.save(buf, np.random.default_rng(7).standard_normal(50000))
data = buf.getvalue()
s = connect(sock)
r = rpc(s, "put_begin", {"size": len(data)}, 1)
assert r["ok"], r
up = r["result"]["upload"]
half = len(data) // 2
assert rpc(s, "put_chunk", {"upload": up, "offset": 0, "data": data[:half]}, 2)["ok"]
gc = subprocess.run([dashi, "--json", "--no-autostart", "gc", "--apply"], capture_output=True, text=True)
assert gc.returncode == 0, gc.stdout + gc.stderr
assert rpc(s, "put_chunk", {"upload": up, "offset": half, "data": data[half:]}, 3)["ok"]
r = rpc(s, "put_end", {"upload": up}, 4)
assert r["ok"], r
h = r["result"]["hash"]
s.close()
out = os.path.join(work, "concurrent.npy")
get = subprocess.run([dashi, "--no-autostart", "get", h, "-o", out], capture_output=True, text=True)
assert get.returncode == 0, get.stderr
with open(out, "rb") as f:
    assert f.read() == data
assert blob_address(data) == h
print("ok - an upload spanning gc --apply survives and verifies")


def refused(op, args, code, field):
    r = call(sock, op, args)
    assert not r["ok"] and r["error"]["code"] == code and r["error"]["field"] == field, (op, args, r)


refused("rm", {}, "E_MISSING_FIELD", "ids")
refused("rm", {"ids": 5}, "E_BAD_TYPE", "ids")
refused("rm", {"ids": "1"}, "E_BAD_TYPE", "ids")
refused("rm", {"ids": []}, "E_BAD_VALUE", "ids")
refused("rm", {"ids": [1, -2]}, "E_BAD_TYPE", "ids")
refused("rm", {"ids": [1.5]}, "E_BAD_TYPE", "ids")
refused("rm", {"ids": [2**64 - 1]}, "E_BAD_TYPE", "ids")
refused("rm", {"ids": list(range(1, 1002))}, "E_TOO_LARGE", "ids")
refused("rm", {"ids": [1], "force": True}, "E_UNKNOWN_FIELD", "force")
refused("rm", {"ids": [10**12]}, "E_NOT_FOUND", "ids")
refused("gc", {"apply": "yes"}, "E_BAD_TYPE", "apply")
refused("gc", {"apply": True, "all": 1}, "E_UNKNOWN_FIELD", "all")
assert call(sock, "ping")["ok"]
print("ok - hostile rm/gc arguments refused with their field; the daemon still serves")
