# The Python client (client/python/dashi_client.py) against a real daemon: its example
# runs a rollout end to end and agrees with numpy; the module alone (no numpy) moves
# bytes, finds the socket as dashi does, and raises the daemon's errors with their codes.
. tests/e2e/lib.sh
start_daemon

"$PY" client/python/example.py tests/data/A.npy tests/data/z_t0000.npy 100 > "$WORK/example.out" 2>&1 \
  || { cat "$WORK/example.out"; fail "example.py failed"; }
cat "$WORK/example.out"
grep -q "succeeded" "$WORK/example.out" || fail "example: job did not succeed"
grep -q "relative difference from numpy" "$WORK/example.out" || fail "example: no comparison"
grep -q "refused as expected: E_BAD_VALUE field=steps" "$WORK/example.out" || fail "example: bad steps not refused"
"$DASHI" --json show 1 > "$WORK/show.json"
[ "$(json "$WORK/show.json" "d['params']['steps']")" = 100 ] || fail "the daemon did not record the example's job"
grep -q "list kind=rollout state=succeeded: jobs \[1\]" "$WORK/example.out" || fail "example: list filters"
grep -q "show: 3 events" "$WORK/example.out" || fail "example: show"
ok "example.py end to end"

# A job's output as a numpy array equals the blob dashi downloads, byte for byte; the metric
# series and summary equal dashi's; list filters select by kind and state.
"$DASHI" --json submit les --N 16 --steps 10 --save-every 2 --wait > "$WORK/les.json" || fail "les job"
LES=$(json "$WORK/les.json" "d['id']")
"$DASHI" get "$(json "$WORK/les.json" "d['outputs']['trajectory']")" -o "$WORK/traj.npy" > /dev/null || fail "dashi get"
"$DASHI" --json metrics "$LES" > "$WORK/metrics.json" || fail "dashi metrics"
"$PY" - "$WORK" "$LES" <<'PY' || fail "numpy get, metrics, list filters"
import json, sys
sys.path.insert(0, "client/python")
import numpy as np, dashi_client
work, les = sys.argv[1], int(sys.argv[2])
c = dashi_client.connect()
rec = c.show(les)
a, b = c.output(les, "trajectory"), np.load(f"{work}/traj.npy")
assert a.dtype == b.dtype == np.float64 and a.shape == b.shape == (6, 16, 16), (a.dtype, a.shape, b.shape)
assert np.array_equal(a, b), "the numpy array differs from the downloaded blob"
assert np.array_equal(c.get_array(rec["outputs"]["trajectory"]), b)
assert c.get_bytes(rec["outputs"]["trajectory"]) == open(f"{work}/traj.npy", "rb").read()
try:
    c.output(rec, "z_final")
    raise SystemExit("no error for a missing output")
except dashi_client.DashiError as e:
    assert e.code == "E_NOT_FOUND" and e.field == "output" and "trajectory" in e.message, e
series, summary = c.metrics(les)
ref = json.load(open(f"{work}/metrics.json"))["metrics"]
for key, s in ref.items():
    pts = [(st, v) for st, v in zip(s["steps"], s["values"]) if st >= 0]
    if pts:
        assert series[key][0].tolist() == [p[0] for p in pts] and series[key][1].tolist() == [p[1] for p in pts], key
    for st, v in zip(s["steps"], s["values"]):
        assert st >= 0 or summary[key] == v, key
assert series and summary and set(series) | set(summary) == set(ref), (sorted(series), sorted(summary))
assert summary == rec["metrics"], "the summary scalars should be the record's"
les_jobs = c.list(kind="les")
assert les in [j["id"] for j in les_jobs] and all(j["kind"] == "les" for j in les_jobs), les_jobs
assert les not in [j["id"] for j in c.list(kind="rollout")]
assert [j["id"] for j in c.list(state="succeeded", limit=1)] == [les]
try:
    c.list(colour="blue")
    raise SystemExit("an unknown filter was accepted")
except dashi_client.DashiError as e:
    assert (e.code, e.field) == ("E_UNKNOWN_FIELD", "colour"), (e.code, e.field)
print(f"ok: {a.shape} trajectory, {len(series)} series, {len(summary)} summary scalars")
PY
ok "output()/get_array() equal dashi get byte for byte; metrics equal dashi's; list filters by kind and state"

# Without numpy: blobs round-trip as bytes, hashes match dashi's, errors carry codes.
"$PY" - "$WORK" <<'PY' || fail "client without numpy"
import sys, builtins, hashlib
real_import = builtins.__import__
def no_numpy(name, *a, **k):
    if name == "numpy" or name.startswith("numpy."):
        raise ImportError("numpy hidden by the test")
    return real_import(name, *a, **k)
builtins.__import__ = no_numpy
sys.path.insert(0, "client/python")
sys.path.insert(0, "tests/e2e")
import dashi_client
from dashi_wire import blob_address
assert dashi_client.numpy is None
work = sys.argv[1]
c = dashi_client.connect()            # $DASHI_SOCKET, as dashi
data = open("tests/data/A.npy", "rb").read()
h = c.put(data)
assert h == blob_address(data) == dashi_client.blob_address(data), h
assert c.get(h) == data
c.get(h, work + "/copy.npy")
assert open(work + "/copy.npy", "rb").read() == data
try:
    c.call("ping", {"bogus": 1})
    raise SystemExit("no error for an unknown field")
except dashi_client.DashiError as e:
    assert (e.code, e.field) == ("E_UNKNOWN_FIELD", "bogus"), (e.code, e.field)
try:
    c.status(999999)
    raise SystemExit("no error for a missing job")
except dashi_client.DashiError as e:
    assert e.code == "E_NOT_FOUND", e.code
series, summary = c.metrics(1)
assert "steps" in summary and summary["steps"] == 100, summary
print("ok without numpy")
PY
ok "client without numpy (bytes, hashes, error codes)"

# A large array goes up in several 4 MiB chunks and comes back equal.
"$PY" - <<'PY' || fail "large upload"
import sys
sys.path.insert(0, "client/python")
import numpy as np, dashi_client
c = dashi_client.connect()
a = np.random.default_rng(7).standard_normal((1500, 1000))
h = c.put(a)
b = c.get(h)
assert b.dtype == a.dtype and b.shape == a.shape and np.array_equal(a, b)
PY
ok "multi-chunk put and get of 12 MB"

# Socket discovery: with DASHI_SOCKET unset the per-user socket of XDG_RUNTIME_DIR is used.
"$PY" - "$DASHI_SOCKET" <<'PY' || fail "socket discovery"
import os, sys
sys.path.insert(0, "client/python")
import dashi_client
del os.environ["DASHI_SOCKET"]
os.environ["XDG_RUNTIME_DIR"] = os.path.dirname(sys.argv[1])
socks = dashi_client.default_socket()
assert socks == ["/run/dashid/dashid.sock", sys.argv[1]], socks
assert dashi_client.connect().ping()["protocol"] == 1   # found through XDG_RUNTIME_DIR
os.environ["XDG_RUNTIME_DIR"] = "relative"
assert dashi_client.user_socket() == f"/tmp/dashid-{os.getuid()}/dashid.sock"
try:
    dashi_client.connect("/nonexistent/dashid.sock")
    raise SystemExit("connected to nothing")
except dashi_client.DashiError as e:
    assert e.code == "E_CONNECT"
PY
ok "socket discovery as dashi"

stop_daemon
