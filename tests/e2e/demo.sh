#!/bin/sh
# `make demo`: the main job on the embedded default. dashi finds no daemon on the demo
# socket and starts a private one (lavapipe when the machine has no GPU), then runs the
# DASHI pipeline at the defaults of `dashi submit pipeline` (docs/cli.md): les (N=64, 300
# steps, seed 0) -> train (encode + ridge operator) -> rollout (300 steps) -> decode
# (signed-filament closure) as one pipeline job, prints its summary from the pipeline's
# record (`dashi show`) and writes the canonical figure of the pipeline (`dashi figure`).
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
echo "== pipeline (mode dashi): les -> train -> rollout -> decode, one job whose stages they are"
"$DASHI" --json submit pipeline --observer snapshots --wait > "$DEMO/summary.json"
PIPE=$("$PY" -c "import json; print(json.load(open('$DEMO/summary.json'))['id'])")
# The summary as the pipeline's record keeps it (show prints the record, then the summary).
"$DASHI" show "$PIPE" | sed -n '/^pipeline /,$p'
echo
# The canonical evaluation figure: truth | decoded | error on one scale, metrics against t.
"$DASHI" figure "$PIPE" -o "$DEMO/figure.png" | head -n 1
echo "figure of the last decoded step: $DEMO/figure.png"
echo "state dir: $DASHI_STATE_DIR (database dashid.db, blobs/); the daemon is stopped on exit"
