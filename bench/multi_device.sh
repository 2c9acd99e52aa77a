#!/bin/sh
# bench/multi_device.sh: what a daemon gains from a pool of devices (issue #21), on a
# private dashid of BUILD: throughput of 2 x JOBS independent LES jobs (save_every 0) on
# one device, then on the pool; a pin to the last device honoured; a pipeline's stages on
# one device; a split batch: a B=512 exact rollout on one device, then split over the pool
# (--split auto), its z_final and per-trajectory hashes compared. Prints a table.
#
#   bench/multi_device.sh [BUILD] [--quick]
#
# Without --quick: N=1024, 2000 steps, 2 x 8 jobs, `--devices 0` against `--devices all`
# (the 2-GPU machine of issue #21). --quick: N=32, 50 steps, 2 x 2 jobs, on lavapipe opened
# as two logical devices (DASHI_TEST_LOGICAL_DEVICES=2) against one: it checks the script,
# its figures say nothing of a real pool (both logical devices share the same CPU cores).
# The split rollout: D=256, 2000 steps (--quick: D=16, 20 steps), a hash every 10th step.
set -eu
BUILD=build
QUICK=
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    -*) echo "usage: bench/multi_device.sh [BUILD] [--quick]" >&2; exit 2 ;;
    *) BUILD=$1; shift ;;
  esac
done
if [ -n "$QUICK" ]; then N=32 STEPS=50 JOBS=2 SD=16 SSTEPS=20; else N=1024 STEPS=2000 JOBS=8 SD=256 SSTEPS=2000; fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/private_dashid.sh"
OUT=$(mktemp -d) # the two runs' lines and the split rollout's inputs (each private dashid's WORK goes with it)
/usr/bin/python3 -c "
import numpy as np
r = np.random.default_rng(21)
np.save('$OUT/a.npy', r.standard_normal(($SD, $SD)) / (2 * $SD ** 0.5)); np.save('$OUT/zb.npy', r.standard_normal((512, $SD)))"
ids_of() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# throughput LABEL: submits 2 x JOBS LES jobs, waits, prints LABEL jobs/hour wall_s.
throughput() {
  ids=
  k=0
  while [ $k -lt $((2 * JOBS)) ]; do
    ids="$ids $("$DASHI" --json submit les --N $N --steps $STEPS --save-every 0 --seed $k --no-reuse | ids_of)"
    k=$((k + 1))
  done
  "$DASHI" --json wait $ids > /dev/null
  for j in $ids; do "$DASHI" --json show "$j" | tr -d '\n'; echo; done > "$WORK/tp.jsonl"
  /usr/bin/python3 - "$1" "$WORK/tp.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert all(r['state'] == 'succeeded' for r in recs), [r['state'] for r in recs]
wall = max(r['ended_at'] for r in recs) - min(r['submitted_at'] for r in recs)
devs = sorted({[e['detail'] for e in r['events'] if e['state'] == 'running'][-1].split()[2] for r in recs})
print(f"{sys.argv[1]:<12} {len(recs):>4} {wall:>9.2f} {len(recs) * 3600 / wall:>10.1f}  devices {','.join(devs)}")
PY
}

# split_rollout LABEL: a B=512 exact rollout of the inputs, waited for; prints LABEL, its
# wall and GPU seconds, the devices it ran on, z_final's hash and a digest of its hashes.
split_rollout() {
  A=$("$DASHI" put "$OUT/a.npy"); Z=$("$DASHI" put "$OUT/zb.npy")
  S=$("$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps $SSTEPS --hash-every 10 --no-reuse --wait | ids_of)
  PYTHONPATH="$ROOT/client/python" /usr/bin/python3 - "$1" "$S" <<'PY'
import hashlib, sys, dashi_client
c = dashi_client.connect()
job = int(sys.argv[2])
r = c.call("show", {"id": job})
assert r["state"] == "succeeded", r["state"]
rows, cursor = [], None
while True:
    p = c.call("hashes", dict({"id": job, "limit": 1000}, **({"cursor": cursor} if cursor else {})))
    rows += [(h["traj"], h["step"], h["hash"]) for h in p["hashes"]]
    cursor = p.get("next")
    if not cursor:
        break
digest = hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()[:16]
devs = ",".join(str(d["index"]) for d in r["devices"])
print(f"{sys.argv[1]:<12} {r['ended_at'] - r['started_at']:>9.2f} {r['gpu_seconds']:>9.2f}  devices {devs:<6}"
      f" z_final {r['outputs']['z_final'][:16]} hashes {len(rows)} {digest}")
PY
}

echo "N=$N steps=$STEPS jobs=$((2 * JOBS))"
printf '%-12s %4s %9s %10s\n' run jobs wall_s jobs/hour
if [ -n "$QUICK" ]; then DEVICE=lavapipe; else DEVICE=0; fi
start_private_dashid
throughput "one device" | tee "$OUT/one.txt"
split_rollout "one device" > "$OUT/split_one.txt"
kill $PID; wait $PID 2>/dev/null || true; rm -rf "$WORK"
if [ -n "$QUICK" ]; then export DASHI_TEST_LOGICAL_DEVICES=2; else DEVICE=all; fi
start_private_dashid
throughput "pool" | tee "$OUT/pool.txt"
split_rollout "split" > "$OUT/split_pool.txt"
/usr/bin/python3 - "$OUT/one.txt" "$OUT/pool.txt" <<'PY'
import sys
one, pool = (float(open(p).read().split()[-3]) for p in sys.argv[1:])
print(f"pool / one device: {pool / one:.2f}x jobs/hour")
PY
echo "B=512 exact rollout, D=$SD, $SSTEPS steps"
printf '%-12s %9s %9s\n' run wall_s gpu_s
cat "$OUT/split_one.txt" "$OUT/split_pool.txt"
[ "$(sed 's/.*z_final/z_final/' "$OUT/split_one.txt")" = "$(sed 's/.*z_final/z_final/' "$OUT/split_pool.txt")" ] \
  && echo "split: z_final and hashes identical to one device" || { echo "split: RESULTS DIFFER from one device"; exit 1; }
grep -q 'devices 0,1' "$OUT/split_pool.txt" || echo "split: the rollout was not split (devices busy?)"
rm -rf "$OUT"

LAST=$(( $("$DASHI" --json ping | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["devices"]))') - 1 ))
P=$("$DASHI" --json submit les --N 32 --steps 10 --no-reuse --device $LAST --wait | ids_of)
ON=$("$DASHI" --json show "$P" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print([e["detail"] for e in d["events"] if e["state"] == "running"][-1].split()[2])')
echo "pin: --device $LAST ran on device $ON"
PIPE=$("$DASHI" --json submit pipeline --N 32 --steps 10 --decode-every 5 --no-reuse --wait | ids_of)
"$DASHI" --json show "$PIPE" | /usr/bin/python3 -c 'import json,sys; print(" ".join(map(str, json.load(sys.stdin)["stages"].values())))' > "$WORK/stages"
for s in $(cat "$WORK/stages"); do "$DASHI" --json show "$s" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print([e["detail"] for e in d["events"] if e["state"] == "running"][-1].split()[2])'; done | sort -u > "$WORK/pdevs"
echo "pipeline $PIPE: stages $(cat "$WORK/stages" | tr '\n' ' ')on device(s) $(cat "$WORK/pdevs" | tr '\n' ' ')"
