#!/bin/sh
# bench/pipeline.sh: wall time per stage of the default pipeline (les N=64, 300 steps ->
# train on 301 frames -> rollout 300 steps -> decode every step, observer metrics), as
# `dashi submit pipeline --wait` runs it on a private dashid. Baselines measured in the
# same run: the reference mode (numpy-parity kernels, host PCG64 phases, saturate mask)
# against the dashi mode, each run twice: the first run of a mode pays the VkFFT plans
# and pipeline compiles (cold), the table compares the second (warm) runs.
#
#   bench/pipeline.sh [BUILD] [--device NAME] [--runs K]
#
# BUILD holds dashid and dashi (default build). Stage wall = the job's ended_at −
# started_at (it waits for nothing then: the previous stage has ended); GPU = the job's
# gpu_seconds. Inner timings come from the jobs' summaries (train: encode_ms, fit_ms,
# solve_ms, diag_ms; decode: ms_per_decode). Needs python3 (no numpy).
set -eu
BUILD=build
DEVICE=auto
RUNS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    -*) echo "usage: bench/pipeline.sh [BUILD] [--device NAME] [--runs K]" >&2; exit 2 ;;
    *) BUILD=$1; shift ;;
  esac
done
. "$(dirname "$0")/private_dashid.sh"
start_private_dashid

run=0
for k in $(seq 1 "$RUNS"); do
  for mode in dashi reference; do
    run=$((run + 1))
    "$DASHI" --json submit pipeline --no-reuse --mode $mode --wait > "$WORK/pipe_${mode}_$k.json"
    python3 - "$WORK/pipe_${mode}_$k.json" > "$WORK/ids_${mode}_$k" <<'PY'
import json, sys
print(" ".join(str(v) for v in json.load(open(sys.argv[1]))["jobs"].values()))
PY
    for id in $(cat "$WORK/ids_${mode}_$k"); do
      "$DASHI" --json show "$id" > "$WORK/job_$id.json"
    done
  done
done

python3 - "$WORK" "$RUNS" <<'PY'
import json, sys
work, runs = sys.argv[1], int(sys.argv[2])
stages = ["les", "train", "rollout", "decode"]

def jobs(mode, k):
    ids = open(f"{work}/ids_{mode}_{k}").read().split()
    return {s: json.load(open(f"{work}/job_{i}.json")) for s, i in zip(stages, ids)}

def wall(j):
    return j["ended_at"] - j["started_at"]

def summ(j, key):
    s = j.get("summary") or j.get("metrics") or {}
    v = s.get(key)
    return v if isinstance(v, (int, float)) else float("nan")

pipe = json.load(open(f"{work}/pipe_dashi_1.json"))
dev = pipe.get("device")
print(f"device: {dev if isinstance(dev, str) else json.dumps(dev)}")
d1, dw, rw = jobs("dashi", 1), jobs("dashi", runs), jobs("reference", runs)
print(f"default pipeline (N=64, 300 steps, decode every step, observer metrics); warm = run {runs} of {runs}\n")
print("| stage | dashi cold s | dashi warm s | dashi warm GPU s | reference warm s | reference / dashi |")
print("|---|---:|---:|---:|---:|---:|")
tot = [0.0, 0.0, 0.0, 0.0]
for s in stages:
    row = [wall(d1[s]), wall(dw[s]), dw[s].get("gpu_seconds") or 0.0, wall(rw[s])]
    tot = [a + b for a, b in zip(tot, row)]
    print(f"| {s} | {row[0]:.3f} | {row[1]:.3f} | {row[2]:.3f} | {row[3]:.3f} | {row[3] / row[1]:.2f} |")
print(f"| **total** | {tot[0]:.3f} | {tot[1]:.3f} | {tot[2]:.3f} | {tot[3]:.3f} | {tot[3] / tot[1]:.2f} |")
print("\ninside the stages (warm runs, ms): | dashi | reference |")
print("|---|---:|---:|")
for s, key in [("les", "host_ms_per_step"), ("les", "gpu_ms_per_step"), ("train", "encode_ms"), ("train", "fit_ms"), ("train", "solve_ms"),
               ("train", "diag_ms"), ("train", "fit_gpu_ms"), ("train", "eval_ms"), ("rollout", "ns_per_step"),
               ("rollout", "host_ms"), ("decode", "ms_per_decode")]:
    a, b = summ(dw[s], key), summ(rw[s], key)
    if a == a or b == b:
        print(f"| {s} {key} | {a:.4g} | {b:.4g} |")
PY
