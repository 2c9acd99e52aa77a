#!/bin/sh
# `make demo`: the main job on the embedded default. dashi finds no daemon on the demo
# socket and starts a private one (lavapipe when the machine has no GPU); the refdata
# proxy z_0 and operator A are uploaded and rolled out 300 steps (SPEC §5).
set -eu
BUILD=${1:-build}
DASHI="$BUILD/dashi"
DEMO="$BUILD/demo"
export DASHI_SOCKET="$(pwd)/$DEMO/dashid.sock"
export DASHI_STATE_DIR="$(pwd)/$DEMO/state"
mkdir -p "$DEMO"
trap '"$DASHI" --no-autostart shutdown > /dev/null 2>&1 || true' EXIT

echo "== daemon"
"$DASHI" ping
echo
echo "== upload refdata (tests/data: z_t0000.npy, A.npy, zhat_T.npy)"
Z=$("$DASHI" put tests/data/z_t0000.npy); echo "z0     $Z"
A=$("$DASHI" put tests/data/A.npy);       echo "A      $A"
T=$("$DASHI" put tests/data/zhat_T.npy);  echo "zhat_T $T"
echo
echo "== rollout: 300 steps, f64, exact mode, hash every step"
"$DASHI" submit rollout --op "$A" --z0 "$Z" --truth "$T" --steps 300 --hash-every 1 --wait > "$DEMO/record.txt"
cat "$DEMO/record.txt"
ID=$(sed -n 's/^job \([0-9]*\) .*/\1/p' "$DEMO/record.txt")
echo
echo "== result"
"$DASHI" --json show "$ID" > "$DEMO/record.json"
/usr/bin/python3 - "$DEMO/record.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = d["metrics"]
print(f"device      {d['device']}  ({d['backend']}, {d['precision']}, {d['mode']} mode)")
print(f"proxy error ||z_300 - zhat_T|| / ||zhat_T|| = {m['proxy_error_final']:.3e}   (SPEC: parity to 1e-10)")
print(f"timings     {m['steps_per_s']:.0f} steps/s, {m['ns_per_step']/1e3:.1f} us/step (hot loop, "
      f"{'GPU timestamps' if m['gpu_timestamps'] else 'host clock'}); wall {d['ended_at']-d['started_at']:.2f} s")
PY
echo "hashes      (BLAKE2b-128 of z_t after step t; first 3 and last)"
"$DASHI" hashes "$ID" > "$DEMO/hashes.txt"
/usr/bin/python3 -c "
import json,subprocess,sys
d=json.loads(subprocess.check_output(['$DASHI','--json','hashes','$ID']))
h=d['hashes']
for x in h[:3]+h[-1:]: print(f\"  t={x['step']:<4d} {x['hash']}\")"
echo
echo "state dir: $DASHI_STATE_DIR (database dashid.db, blobs/); the daemon is stopped on exit"
