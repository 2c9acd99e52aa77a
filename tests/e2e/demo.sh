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
DEC=$("$PY" -c "import json; print(json.load(open('$DEMO/summary.json'))['jobs']['decode'])")
echo
# The canonical evaluation figure: truth | decoded | error on one scale, metrics against t.
"$DASHI" figure "$DEC" -o "$DEMO/figure.png" | head -n 1
echo "figure of the last decoded step: $DEMO/figure.png"
echo "state dir: $DASHI_STATE_DIR (database dashid.db, blobs/); the daemon is stopped on exit"
