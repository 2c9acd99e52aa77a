"""test_keep.sh's gc part: gc walks the store in batches, so another client's `status` is
answered while it runs (`status` of job 1, which must exist). Plants N unreferenced blob files (orphans: only their names matter
to gc, which stats them and asks the database), starts a gc on one connection and sends
`status` on another, one after the other, until the gc answers. Prints the latencies; fails
unless several statuses were answered during the gc. Usage: gc_latency.py SOCKET STATE N."""
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashi_wire import connect, frame, read_frame, request  # noqa: E402

sock, state, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
blobs = os.path.join(state, "blobs")
for i in range(n):
    h = os.urandom(32).hex()
    os.makedirs(os.path.join(blobs, h[:2]), mode=0o700, exist_ok=True)
    with open(os.path.join(blobs, h[:2], h + ".npy"), "wb") as f:
        f.write(b"\x93NUMPY orphan %d" % i)
past = time.time() - 60  # older than any job: not "recent"
for d, _, files in os.walk(blobs):
    for name in files:
        os.utime(os.path.join(d, name), (past, past))

gc = connect(sock, timeout=120)
st = connect(sock, timeout=120)
t0 = time.monotonic()
gc.sendall(frame(request("gc", {"apply": True}, rid=1)))
latencies = []
while True:
    t = time.monotonic()
    st.sendall(frame(request("status", {"id": 1}, rid=2)))
    r = read_frame(st)
    assert r is not None and r.get("ok"), r
    latencies.append(time.monotonic() - t)
    if select.select([gc], [], [], 0)[0]:
        break
reply = read_frame(gc)
took = time.monotonic() - t0
assert reply and reply.get("ok"), reply
freed = reply["result"]["unreferenced"]["count"]
print(f"gc --apply of {freed} unreferenced blobs took {took:.3f} s; {len(latencies)} status answered meanwhile, "
      f"max latency {max(latencies) * 1000:.1f} ms, median {sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms")
assert freed >= n, reply
assert len(latencies) >= 5, "status was not answered while gc ran"
