# End to end: split batches (docs/architecture.md "Split batches"). Lavapipe opened as
# two logical devices (DASHI_TEST_LOGICAL_DEVICES=2): a batched exact rollout split over
# both gives the same z_final and per-trajectory hashes as with --split off and as on a
# one-device daemon; its record lists both devices, and `dashi acct` per device sums to
# its GPU seconds. A job pinned with --device and queued across a restart keeps its pin.
# Device 1 lost (DASHI_VK_FAULT on device 1 only) while a split job runs: the job is
# interrupted as a whole, as documented, and device 0's other job finishes.
. tests/e2e/lib.sh
B=64 D=32 STEPS=200
"$PY" -c "
import numpy as np
r = np.random.default_rng(7)
np.save('$WORK/a.npy', r.standard_normal(($D, $D)) / 8); np.save('$WORK/zb.npy', r.standard_normal(($B, $D)))"
show() { "$DASHI" --json --no-autostart show "$1"; }
# rollout ARGS...: an exact batched rollout of a from zb, hashed every 50 steps, waited for.
rollout() { "$DASHI" --json --no-autostart submit rollout --op "$A" --z0 "$Z" --steps $STEPS --hash-every 50 --no-reuse --wait "$@"; }
# results ID: z_final's hash and every (traj, step, hash), one line.
results() {
  PYTHONPATH=client/python "$PY" - "$1" <<'PY'
import hashlib, sys, dashi_client
c = dashi_client.connect()
job = int(sys.argv[1])
rec = c.call("show", {"id": job})
rows, cursor = [], None
while True:
    args = {"id": job, "limit": 1000}
    if cursor:
        args["cursor"] = cursor
    p = c.call("hashes", args)
    rows += [(h["traj"], h["step"], h["hash"]) for h in p["hashes"]]
    cursor = p.get("next")
    if not cursor:
        break
print(rec["outputs"]["z_final"], len(rows), hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()[:16])
PY
}

# 1. One device: the reference.
start_daemon
A=$("$DASHI" put "$WORK/a.npy"); Z=$("$DASHI" put "$WORK/zb.npy")
rollout > "$WORK/one.json" || fail "one-device rollout: $(cat "$WORK/one.json")"
ONE=$(results "$(json "$WORK/one.json" "d['id']")")
stop_daemon

# 2. Two logical devices: split (auto) and --split off.
export DASHI_TEST_LOGICAL_DEVICES=2
start_daemon
rollout > "$WORK/split.json" || fail "split rollout: $(cat "$WORK/split.json")"
S=$(json "$WORK/split.json" "d['id']")
rollout --split off > "$WORK/off.json" || fail "--split off rollout: $(cat "$WORK/off.json")"
SPLIT=$(results "$S"); OFF=$(results "$(json "$WORK/off.json" "d['id']")")
echo "one device: $ONE"; echo "split:      $SPLIT"; echo "split off:  $OFF"
[ "$SPLIT" = "$ONE" ] && [ "$OFF" = "$ONE" ] || fail "z_final or hashes differ"
show "$S" > "$WORK/s.json"
[ "$(json "$WORK/s.json" "[x['index'] for x in d['devices']]")" = "[0, 1]" ] \
  || fail "the split job's record does not list devices 0 and 1: $(json "$WORK/s.json" "d['devices']")"
[ "$(json "$WORK/s.json" "int(d['metrics']['parts'])")" = 2 ] || fail "parts: $(json "$WORK/s.json" "d['metrics']")"
[ "$(json "$WORK/off.json" "[x['index'] for x in d['devices']]" | wc -c)" -le 4 ] || fail "--split off ran on several devices"
ok "B=$B exact rollout: split over devices 0 and 1, --split off and one device give the same z_final and $(echo "$ONE" | cut -d' ' -f2) hashes"

# 3. acct per device: root's seconds on each device add up to its jobs' GPU seconds.
"$DASHI" --json acct > "$WORK/acct.json"
"$PY" - "$WORK/acct.json" "$WORK/s.json" <<'PY' || fail "acct per device: $(cat "$WORK/acct.json")"
import json, sys
acct, rec = (json.load(open(p)) for p in sys.argv[1:])
u = [u for u in acct["users"] if u["uid"] == 0][0]
per_dev = {d["index"]: d["gpu_seconds"] for d in u["devices"]}
parts = sum(x["gpu_seconds"] for x in rec["devices"])
print(f"acct: {u['gpu_seconds']:.3f} s in all, per device {per_dev}; split job {rec['gpu_seconds']:.3f} s = {parts:.3f} s over its devices")
assert sorted(per_dev) == [0, 1] and min(per_dev.values()) > 0, per_dev
assert abs(sum(per_dev.values()) - u["gpu_seconds"]) < 1e-6 * max(1, u["gpu_seconds"]), (per_dev, u["gpu_seconds"])
assert abs(parts - rec["gpu_seconds"]) < 1e-6 * max(1, rec["gpu_seconds"]), (parts, rec["gpu_seconds"])
PY
"$DASHI" acct | grep -q "^root .* 1 .*llvmpipe" || fail "dashi acct does not print device 1: $("$DASHI" acct)"
ok "acct: GPU seconds per device add up to the users' and the split job's"

# 4. Pins survive a restart: behind an endless job running on device 1, Q (endless) and
# P (short, lower priority), both pinned to device 1, are queued. After a restart Q runs
# on device 1 and P waits for it although device 0 is idle; once Q is cancelled, P runs
# on device 1.
endless() { "$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 1000000000 --hash-every 1000000 --no-reuse "$@"; }
state_of() { show "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
endless --device 1 > "$WORK/e.json"; E=$(json "$WORK/e.json" "d['id']")
wait_state "$E" running
endless --device 1 --priority -1 > "$WORK/q.json"; Q=$(json "$WORK/q.json" "d['id']")
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 20 --no-reuse --device 1 --priority -2 > "$WORK/p.json"
P=$(json "$WORK/p.json" "d['id']")
sleep 0.5
[ "$(state_of "$Q") $(state_of "$P")" = "queued queued" ] || fail "jobs $Q and $P did not stay queued"
stop_daemon
start_daemon
wait_state "$Q" running
sleep 1
[ "$(state_of "$P")" = queued ] || fail "job $P, pinned to busy device 1, did not wait after the restart: $(show "$P")"
"$DASHI" cancel "$Q" > /dev/null
"$DASHI" --json wait "$P" > "$WORK/pw.json" || fail "pinned job after the restart: $(cat "$WORK/pw.json")"
[ "$(json "$WORK/pw.json" "d['pin'], [x['index'] for x in d['devices']]")" = "1 [1]" ] \
  || fail "pinned job $P after the restart: pin $(json "$WORK/pw.json" "d['pin'], d['devices']")"
[ "$(show "$Q" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["pin"], [x["index"] for x in d["devices"]])')" = "1 [1]" ] \
  || fail "job $Q did not run on device 1 after the restart"
ok "jobs $Q and $P pinned to device 1 and queued across a restart kept their pins (P waited while device 0 was idle)"
stop_daemon

# 5. Device 1 lost while a split job runs: the split job is interrupted as a whole (its
# part on device 1 lost its state) and names the device; device 0's other job finishes.
export DASHI_VK_FAULT=device_lost:usr1 DASHI_VK_FAULT_DEVICE=1
start_daemon
endless > "$WORK/x.json"; X=$(json "$WORK/x.json" "d['id']")
wait_state "$X" running
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 2000 --no-reuse --device 0 > "$WORK/v0.json"
V0=$(json "$WORK/v0.json" "d['id']")
wait_state "$V0" running
i=0; until [ "$(show "$X" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["devices"]))')" = 2 ]; do
  i=$((i + 1)); [ $i -lt 100 ] || fail "job $X did not start on both devices"; sleep 0.1; done
kill -USR1 "$DAEMON_PID"
wait_state "$X" interrupted
show "$X" > "$WORK/xs.json"
json "$WORK/xs.json" "d['error']['message']" | grep -q "lost" || fail "split job's error: $(json "$WORK/xs.json" "d['error']")"
"$DASHI" --json wait "$V0" > "$WORK/v0w.json" || true
[ "$(json "$WORK/v0w.json" "d['state']")" = succeeded ] || fail "device 0's job: $(cat "$WORK/v0w.json")"
ok "device 1 lost: split job $X interrupted ($(json "$WORK/xs.json" "d['error']['message']" | cut -c1-60)...), job $V0 on device 0 succeeded"
stop_daemon
