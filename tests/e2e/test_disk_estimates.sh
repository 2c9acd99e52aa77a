# End to end: a kind whose outputs were estimated at 0 disk bytes (train) is held to the
# disk quota at submit: with max_disk_bytes = 8K, a train job on a 64×64 trajectory
# (its mask_low alone is 4 KiB, plus A, Z and z0) is refused with E_QUOTA (exit 6), while
# the same job for a user without a quota is accepted and succeeds; likewise a decode job
# with snapshots and an atoms job.
. tests/e2e/lib.sh
need_second_user
start_shared_daemon "limit.root.max_disk_bytes = 8K"
"$PY" -c "import numpy as np; np.save('$WORK/traj.npy', np.random.default_rng(3).standard_normal((12, 64, 64)))"
T=$(as_nobody "$DASHI" --no-autostart put "$WORK/traj.npy")
rc=0; "$DASHI" --json submit train --traj "$T" > "$WORK/t.json" 2>/dev/null || rc=$?
[ $rc -eq 6 ] && [ "$(json "$WORK/t.json" "d['error']['code'], d['error']['field']")" = "E_QUOTA max_disk_bytes" ] ||
  fail "train past the quota: expected E_QUOTA max_disk_bytes, exit 6; got $rc: $(cat "$WORK/t.json")"
json "$WORK/t.json" "d['error']['message']"
as_nobody "$DASHI" --json --no-autostart submit train --traj "$T" --wait > "$WORK/n.json" ||
  fail "the same train job without a quota: $(cat "$WORK/n.json")"
# The estimate is honest: at least what the job wrote (the refusal gives it to 0.1 MiB), and not far above it.
"$PY" - "$DASHI_SOCKET" "$WORK/n.json" "$WORK/t.json" <<'PY' || fail "estimate vs the bytes written"
import json, re, sys
sys.path.insert(0, "tests/e2e")
from dashi_wire import call
sock, rec, refusal = sys.argv[1:]
outs = json.load(open(rec))["outputs"]
written = sum(call(sock, "blob_info", {"hash": h})["result"]["size"] for h in outs.values())
est = float(re.match(r"([0-9.]+) MiB more", json.load(open(refusal))["error"]["message"]).group(1)) * 2**20
print(f"train outputs: {written} bytes written, {est:.0f} estimated")
assert written <= est + 0.05 * 2**20 and est <= 2 * written + 2**20, (written, est)
PY
ok "a train job whose outputs pass max_disk_bytes is refused at submit; the estimate matches the bytes written"

# decode with snapshots writes every decoded field (12 frames of 64×64 f8: 384 KiB): also
# refused past the quota (it was estimated at 0 bytes), accepted and run without one.
TRAIN=$(json "$WORK/n.json" "d['id']")
Z=$(json "$WORK/n.json" "d['outputs']['Z']")
rc=0; "$DASHI" --json submit decode --op "$TRAIN" --states "$Z" --observer snapshots > "$WORK/d.json" 2>/dev/null || rc=$?
[ $rc -eq 6 ] && [ "$(json "$WORK/d.json" "d['error']['code'], d['error']['field']")" = "E_QUOTA max_disk_bytes" ] ||
  fail "decode past the quota: expected E_QUOTA max_disk_bytes, exit 6; got $rc: $(cat "$WORK/d.json")"
as_nobody "$DASHI" --json --no-autostart submit decode --op "$TRAIN" --states "$Z" --observer snapshots --wait \
  > "$WORK/dn.json" || fail "the same decode job without a quota: $(cat "$WORK/dn.json")"
ok "a decode job whose snapshots pass max_disk_bytes is refused at submit"

# atoms stores its atom, lineage and audit rows (as outputs and as tables): estimated from
# the frames and the most atoms a frame can hold (it was 0), so past the quota it is refused
# at submit, and without one it runs and writes less than its estimate.
rc=0; "$DASHI" --json submit atoms --from "$T" > "$WORK/a.json" 2>/dev/null || rc=$?
[ $rc -eq 6 ] && [ "$(json "$WORK/a.json" "d['error']['code'], d['error']['field']")" = "E_QUOTA max_disk_bytes" ] ||
  fail "atoms past the quota: expected E_QUOTA max_disk_bytes, exit 6; got $rc: $(cat "$WORK/a.json")"
as_nobody "$DASHI" --json --no-autostart submit atoms --from "$T" --wait > "$WORK/an.json" ||
  fail "the same atoms job without a quota: $(cat "$WORK/an.json")"
"$PY" - "$DASHI_SOCKET" "$WORK/an.json" "$WORK/a.json" <<'PY' || fail "atoms estimate vs the bytes written"
import json, re, sys
sys.path.insert(0, "tests/e2e")
from dashi_wire import call
sock, rec, refusal = sys.argv[1:]
outs = json.load(open(rec))["outputs"]
written = sum(call(sock, "blob_info", {"hash": h})["result"]["size"] for h in outs.values())
est = float(re.match(r"([0-9.]+) MiB more", json.load(open(refusal))["error"]["message"]).group(1)) * 2**20
print(f"atoms outputs: {written} bytes written (and as many in tables), {est:.0f} estimated")
assert 2 * written <= est, (written, est)
PY
ok "an atoms job whose rows pass max_disk_bytes is refused at submit"
stop_daemon
