# End to end: one job with 100 waiting dependents (the per-user queue allows 1000). When it
# succeeds every dependent is validated again and runs; when it is cancelled every one
# fails with E_STATE. The daemon once kept at most 64 dependents of a job: the rest
# waited forever. docs/protocol.md, "Inputs from other jobs (dependencies)".
. tests/e2e/lib.sh
start_daemon
A=$("$DASHI" put tests/data/A.npy)
Z=$("$DASHI" put tests/data/z_t0000.npy)
# The dependency must still run while the 100 are submitted (one connection, a few ms
# each): 3,000 steps take tens of seconds under ASan on lavapipe; the test says so if not.
PYTHONPATH=client/python "$PY" - "$A" "$Z" <<'PYEOF' || fail "100 dependents"
import sys, time, dashi_client
op, z = sys.argv[1], sys.argv[2]
c = dashi_client.connect()

def rollout(z0, steps):
    return c.call("submit", {"kind": "rollout", "args": {"op": op, "z0": z0, "steps": steps, "hash_every": 0}})

def dependents(of):
    ids = []
    for _ in range(100):
        r = rollout(of, 10)
        if r["params"]["z0"] != of:
            raise SystemExit(f"job {of} ended before its dependents were submitted: give it more steps")
        ids.append(r["id"])
    return ids

def settle(ids, stall_s):
    """The final states of ids, polling until none is queued or running; fails when none
    of them ended for stall_s seconds (a 10-step rollout takes well under one)."""
    last_change, last_active = time.monotonic(), None
    while True:
        states = {i: c.call("status", {"id": i}) for i in ids}
        active = [i for i, s in states.items() if s["state"] in ("queued", "running")]
        if not active:
            return states
        if len(active) != last_active:
            last_change, last_active = time.monotonic(), len(active)
        elif time.monotonic() - last_change > stall_s:
            raise SystemExit(f"{len(active)} of {len(ids)} jobs never ended (first: job {active[0]})")
        time.sleep(0.5)

dep = rollout(z, 3000)["id"]
ok_ids = dependents(dep)
settle([dep], 600)
states = settle(ok_ids + [dep], 60)
bad = [i for i in ok_ids + [dep] if states[i]["state"] != "succeeded"]
assert not bad, f"jobs that did not succeed: {[(i, states[i]) for i in bad][:3]}"
print(f"ok - all 100 dependents of job {dep} were validated again and succeeded")

long_job = rollout(z, 1000000000)["id"]
failing = dependents(long_job)
c.call("cancel", {"id": long_job})
states = settle(failing, 60)
bad = [i for i in failing if states[i]["state"] != "failed" or states[i]["error"]["code"] != "E_STATE"]
assert not bad, f"dependents that did not fail with E_STATE: {[(i, states[i]) for i in bad][:3]}"
print(f"ok - all 100 dependents of the cancelled job {long_job} failed with E_STATE")
PYEOF
stop_daemon
