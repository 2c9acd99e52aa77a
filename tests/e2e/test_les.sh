# End to end: the LES job through the daemon (docs/numerics.md "LES") reproduces the reference field at
# step 300 and its energy series, records device/precision/mode, and renders a PNG.
. tests/e2e/lib.sh
start_daemon
"$DASHI" --json submit les --N 64 --steps 300 --save-every 100 --mode reference --wait > "$WORK/les.json" \
  || { cat "$WORK/les.json"; fail "les job failed"; }
json "$WORK/les.json" "d['state']=='succeeded' and d['precision']=='f64' and d['mode']=='reference' and d['device'] is not None" \
  | grep -qx True || fail "record: $(cat "$WORK/les.json")"
for o in omega_final trajectory energy enstrophy; do
  "$DASHI" get "$(json "$WORK/les.json" "d['outputs']['$o']")" -o "$WORK/$o.npy" > /dev/null || fail "get $o"
done
"$PY" - "$WORK" <<'PY' || fail "LES outputs differ from the reference"
import sys, numpy as np
w = sys.argv[1]
rel = lambda a, b: np.linalg.norm(a - b) / np.linalg.norm(b)
om = np.load(f"{w}/omega_final.npy"); ref = np.load("tests/data/omega_t0300.npy")
assert om.shape == (64, 64) and rel(om, ref) < 1e-10, rel(om, ref)
tr = np.load(f"{w}/trajectory.npy")
assert tr.shape == (4, 64, 64), tr.shape
assert rel(tr[0], np.load("tests/data/omega_t0000.npy")) < 1e-12 and rel(tr[3], ref) < 1e-10
e = np.load(f"{w}/energy.npy"); z = np.load(f"{w}/enstrophy.npy")
assert np.max(np.abs(e / np.load("tests/data/energy_true.npy") - 1)) < 1e-10
assert np.max(np.abs(z / np.load("tests/data/enstrophy_true.npy") - 1)) < 1e-10
PY
ok "les N=64 300 steps matches omega_t0300, trajectory, energy, enstrophy"

ID=$(json "$WORK/les.json" "d['id']")
"$DASHI" --json metrics "$ID" --key energy > "$WORK/m.json"
json "$WORK/m.json" "len(d['metrics']['energy']['values'])" | grep -qx 301 || fail "energy metric series"
ok "energy metric stored per step"

"$DASHI" render "$(json "$WORK/les.json" "d['outputs']['trajectory']")" --frame 3 -o "$WORK/w300.png" > /dev/null
[ "$(head -c 8 "$WORK/w300.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "not a PNG"
ok "render"

rc=0; "$DASHI" --json submit les --N 63 > "$WORK/bad.json" 2>/dev/null || rc=$?
[ $rc -eq 1 ] && [ "$(json "$WORK/bad.json" "d['error']['field']")" = N ] || fail "odd N accepted"
rc=0; "$DASHI" --json submit les --N 64 --require-gpu > "$WORK/nogpu.json" 2>/dev/null || rc=$?
if json "$WORK/les.json" "d['backend']" | grep -q lavapipe; then
  [ "$(json "$WORK/nogpu.json" "d['error']['code']")" = E_NO_GPU ] || fail "require_gpu on lavapipe must fail E_NO_GPU"
  ok "require-gpu refused on lavapipe with E_NO_GPU"
fi
stop_daemon
