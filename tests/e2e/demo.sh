#!/bin/sh
# `make demo`: the main job on the embedded default. dashi finds no daemon on the demo
# socket and starts a private one (lavapipe when the machine has no GPU), then runs the
# DASHI pipeline at the defaults of `dashi submit pipeline` (docs/cli.md): les (N=64, 300
# steps, seed 0) -> train (encode + ridge operator) -> rollout (300 steps) -> decode
# (signed-filament closure), prints the summary and writes PNGs of the truth, the decoded
# field and their error at the last step.
set -eu
BUILD=${1:-build}
DASHI="$(pwd)/$BUILD/dashi"
DEMO="$(pwd)/$BUILD/demo"
PY=/usr/bin/python3
export DASHI_SOCKET="$DEMO/dashid.sock"
export DASHI_STATE_DIR="$DEMO/state"
mkdir -p "$DEMO"
trap '"$DASHI" --no-autostart shutdown > /dev/null 2>&1 || true' EXIT

echo "== daemon"
"$DASHI" ping | sed -n 's/^\(device\|backend\|precisions\): /  \1: /p'
echo
echo "== pipeline (mode dashi): les -> train -> rollout -> decode"
"$DASHI" --json submit pipeline --observer snapshots --wait > "$DEMO/summary.json"
"$PY" - "$DEMO/summary.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
j = d["jobs"]
print(f"jobs: les {j['les']} -> train {j['train']} -> rollout {j['rollout']} -> decode {j['decode']}   on {d['device']}")
print(f"{'':8}{'t=0':>14}{'t=300':>14}{'mean':>14}")
for k, v in d["v4"].items():
    print(f"{k:8}{v['t0']:14.6g}{v['T']:14.6g}{v['mean']:14.6g}")
for k, v in d["train"].items():
    print(f"{k:32}{v:.6g}")
c = d["closure_depth"]
print(f"closure depth K: last {c['last']:.0f}, mean {c['mean']:.2f}, max {c['max']:.0f}")
print("timings (s):  " + "  ".join(f"{k} {v['wall']:.2f}" for k, v in d["timings_s"].items()))
PY
LES=$("$PY" -c "import json; print(json.load(open('$DEMO/summary.json'))['jobs']['les'])")
DEC=$("$PY" -c "import json; print(json.load(open('$DEMO/summary.json'))['jobs']['decode'])")
"$DASHI" --json show "$LES" > "$DEMO/les.json"
"$DASHI" --json show "$DEC" > "$DEMO/decode.json"
TRAJ=$("$PY" -c "import json; print(json.load(open('$DEMO/les.json'))['outputs']['trajectory'])")
HAT=$("$PY" -c "import json; print(json.load(open('$DEMO/decode.json'))['outputs']['omega_hat'])")
"$DASHI" get "$TRAJ" -o "$DEMO/truth.npy" > /dev/null
"$DASHI" get "$HAT" -o "$DEMO/decoded.npy" > /dev/null
"$PY" -c "
import numpy as np
t = np.load('$DEMO/truth.npy')[-1]; h = np.load('$DEMO/decoded.npy')[-1]
np.save('$DEMO/truth_T.npy', t); np.save('$DEMO/decoded_T.npy', h); np.save('$DEMO/error_T.npy', h - t)"
for f in truth decoded error; do
  "$DASHI" render "$("$DASHI" put "$DEMO/${f}_T.npy")" -o "$DEMO/$f.png" > /dev/null
done
echo
echo "pictures of the last step: $DEMO/truth.png $DEMO/decoded.png $DEMO/error.png"
echo "state dir: $DASHI_STATE_DIR (database dashid.db, blobs/); the daemon is stopped on exit"
