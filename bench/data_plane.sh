#!/bin/sh
# bench/data_plane.sh: the data plane of issue #16 on a private dashid, each figure with its
# baseline measured in the same run:
#   (a) les N 300 steps --save-every 1 against --save-every 0 (wall; target <= 1.25x);
#   (b) `submit pipeline --N N --steps 300 --wait` wall against the sum of its jobs' GPU
#       seconds (target <= 1.5x and <= 4 s at N=1024);
#   (c) a 1,000-step rollout of a second user (nobody, via sudo or setpriv, when possible;
#       else the same user) alone, then while the save-every-1 LES runs (target <= 1.2x);
#   (d) for each N of --N: the pipeline's wall and the LES trajectory's write rate (GB/s of
#       trajectory over the LES job's wall time);
#   (f) the disk's own rate: dd writing the N=1024 trajectory's bytes with fdatasync, the
#       baseline of (d)'s write rates;
#   (e) where each LES's GPU-thread time went, from its summary (docs/numerics.md "Job
#       outputs"): GPU ms of the steps and of the readback copies, the GPU thread's ms in
#       its slices and of them waiting for a run's fence, ms waiting for staging, runs
#       overlapped, host copies per frame.
#
#   bench/data_plane.sh [BUILD] [--N "1024 2048 4096"] [--device NAME] [--quick]
#
# --quick: N=64 and fewer steps, for lavapipe (checks the script runs; the figures mean
# nothing there). Every job runs with --no-reuse (a repeat would take the earlier results).
# (a) and (c) run at N=1024 (64 with --quick) whatever --N says. Beyond N=2048 the pipeline
# runs 100 steps (a 300-step N=4096 trajectory is 40 GB, most of the lent host's disk), and
# each N's jobs are removed (rm, gc --apply) before the next. Any dashi call that fails
# prints what it answered and the daemon's log, and the script stops.
# Wall = the job's ended_at - started_at. Needs python3 (no numpy).
set -eu
BUILD=build
DEVICE=auto
NS="1024 2048 4096"
STEPS=300
QUICK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --N) NS=$2; shift 2 ;;
    --device) DEVICE=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    -*) echo "usage: bench/data_plane.sh [BUILD] [--N \"N ...\"] [--device NAME] [--quick]" >&2; exit 2 ;;
    *) BUILD=$1; shift ;;
  esac
done
N0=1024
if [ $QUICK = 1 ]; then NS=64; STEPS=60; N0=64; fi
. "$(dirname "$0")/private_dashid.sh"
# OUT COMMAND...: runs it with stdout into OUT; on failure shows why and stops.
must() {
  out=$1; shift
  "$@" > "$out" || {
    rc=$?
    echo "data_plane.sh: failed (exit $rc): $*" >&2
    cat "$out" >&2
    tail -n 20 "$WORK/dashid.log" >&2
    exit 1
  }
}
CONF=$(mktemp) # the second user reaches the socket
printf 'socket_mode = 0666\n' > "$CONF"
start_private_dashid --config "$CONF"
rm -f "$CONF"
chmod 755 "$WORK"

# The second user: nobody, when this shell may become it; else the same user.
OTHER=""
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
  OTHER="setpriv --reuid=65534 --regid=65534 --clear-groups"
elif sudo -n -u nobody true 2> /dev/null; then
  OTHER="sudo -n -u nobody"
fi
id_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['id'])" "$1"; }
show() { "$DASHI" --json show "$1" > "$WORK/job_$2.json"; }

# A rollout's inputs without numpy: a 64x64 operator (0.9 I) and a state of ones.
python3 - "$WORK" <<'PY'
import struct, sys
def save(path, shape, values):
    head = "{'descr': '<f8', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{s}, " for s in shape)
    pad = 64 - (10 + len(head) + 1) % 64
    head = head + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode())
        f.write(struct.pack(f"<{len(values)}d", *values))
D = 64
save(f"{sys.argv[1]}/a.npy", (D, D), [0.9 if i == j else 0.0 for i in range(D) for j in range(D)])
save(f"{sys.argv[1]}/z.npy", (D,), [1.0] * D)
PY
chmod 644 "$WORK/a.npy" "$WORK/z.npy"
must "$WORK/a.hash" $OTHER "$DASHI" --no-autostart put "$WORK/a.npy"
must "$WORK/z.hash" $OTHER "$DASHI" --no-autostart put "$WORK/z.npy"
rollout() { # NAME: a 1,000-step rollout of the second user, its record in job_NAME.json
  must "$WORK/job_$1.json" $OTHER "$DASHI" --no-autostart --json submit rollout --no-reuse --op "$(cat "$WORK/a.hash")" \
    --z0 "$(cat "$WORK/z.hash")" --steps 1000 --wait
}

les() { # OUT ARGS...: an LES at N0
  out=$1; shift
  must "$out" "$DASHI" --json submit les --no-reuse --N "$N0" --steps $STEPS "$@"
}
# Warm-up (plans, pipelines), then (a), then (c) alone and beside the writer.
les "$WORK/warm.json" --save-every 0 --wait
les "$WORK/job_les0.json" --save-every 0 --wait
les "$WORK/job_les1.json" --save-every 1 --wait
rollout warm
rollout alone
les "$WORK/bg.json" --save-every 1
BG=$(id_of "$WORK/bg.json")
while "$DASHI" --json status "$BG" | grep -q '"queued"'; do sleep 0.05; done
rollout busy
must "$WORK/job_bg.json" "$DASHI" --json wait "$BG"
for name in les0 les1 bg; do show "$(id_of "$WORK/job_$name.json")" "$name"; done # with their summaries
for name in les1 bg; do must /dev/null "$DASHI" rm "$(id_of "$WORK/job_$name.json")"; done
must /dev/null "$DASHI" gc --apply

# (f) the disk's rate for the same bytes, written and made durable the way a blob is.
RAW_BYTES=$(( (STEPS + 1) * N0 * N0 * 8 ))
RAW_START=$(python3 -c "import time; print(time.monotonic())")
dd if=/dev/zero of="$WORK/raw" bs=4M count=$(( RAW_BYTES / 4194304 + 1 )) conv=fdatasync status=none
python3 -c "import sys, time; print(time.monotonic() - float(sys.argv[1]))" "$RAW_START" > "$WORK/raw_s"
rm -f "$WORK/raw"

# (b) and (d): one pipeline per N (the first once more, warm), its jobs shown.
# The time step shrinks with the grid spacing beyond N=1024 (0.01 diverges at N=2048: CFL).
for n in $NS; do
  dt=$(python3 -c "print(min(0.01, 0.01 * 1024 / $n))")
  steps=$STEPS; [ "$n" -gt 2048 ] && steps=100
  echo "$steps" > "$WORK/steps_$n"
  must "$WORK/pipe_$n.json" "$DASHI" --json submit pipeline --no-reuse --N "$n" --steps $steps --dt "$dt" --wait
  ids=$(python3 -c "import json,sys; print(' '.join(str(v) for v in json.load(open(sys.argv[1]))['jobs'].values()))" \
      "$WORK/pipe_$n.json")
  for id in $ids; do
    show "$id" "p${n}_$id"
  done
  for id in $(echo $ids | tr ' ' '\n' | sort -rn); do must /dev/null "$DASHI" rm "$id"; done
  must /dev/null "$DASHI" gc --apply
done

python3 - "$WORK" "$N0" "$STEPS" "$NS" "${OTHER:-same user}" <<'PY'
import glob, json, sys
work, n0, steps, ns, other = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(), sys.argv[5]
load = lambda name: json.load(open(f"{work}/job_{name}.json"))
wall = lambda j: j["ended_at"] - j["started_at"]
gpu = lambda j: j.get("gpu_seconds") or 0.0
les0, les1 = load("les0"), load("les1")
alone, busy = load("alone"), load("busy")
print(f"device: {les0.get('device')}; second user: {other}\n")
print("| figure | measured | baseline | ratio | target |")
print("|---|---:|---:|---:|---|")
r = wall(les1) / wall(les0)
print(f"| (a) les N={n0} {steps} steps save-every 1 vs 0 | {wall(les1):.2f} s | {wall(les0):.2f} s | {r:.2f} | <= 1.25 |")
r = wall(busy) / wall(alone)
print(f"| (c) rollout 1000 steps beside the writer vs alone | {wall(busy):.3f} s | {wall(alone):.3f} s | {r:.2f} | <= 1.2 |")
for n in ns:
    jobs = [json.load(open(f)) for f in sorted(glob.glob(f"{work}/job_p{n}_*.json"))]
    pipe_wall = max(j["ended_at"] for j in jobs) - min(j["started_at"] for j in jobs)
    g = sum(gpu(j) for j in jobs)
    target = "<= 1.5, <= 4 s" if int(n) == 1024 else "-"
    s_n = int(open(f"{work}/steps_{n}").read())
    print(f"| (b) pipeline N={n} {s_n} steps, wall vs sum of GPU s | {pipe_wall:.2f} s | {g:.2f} s | "
          f"{pipe_wall / g if g else float('nan'):.2f} | {target} |")
raw_s = float(open(f"{work}/raw_s").read())
raw_gb = (steps + 1) * n0 * n0 * 8 / 1e9
print(f"\n(f) the disk alone: dd of {raw_gb:.2f} GB with fdatasync in {raw_s:.2f} s = {raw_gb / raw_s:.2f} GB/s\n")
print("| (d) N | steps | pipeline wall s | les wall s | trajectory GB | write GB/s | vs the disk (f) |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for n in ns:
    jobs = [json.load(open(f)) for f in sorted(glob.glob(f"{work}/job_p{n}_*.json"))]
    pipe_wall = max(j["ended_at"] for j in jobs) - min(j["started_at"] for j in jobs)
    les = next(j for j in jobs if j.get("kind") == "les")
    s_n = int(open(f"{work}/steps_{n}").read())
    gb = (s_n + 1) * int(n) * int(n) * 8 / 1e9
    rate = gb / wall(les)
    print(f"| {n} | {s_n} | {pipe_wall:.2f} | {wall(les):.2f} | {gb:.2f} | {rate:.2f} | {rate / (raw_gb / raw_s):.2f} |")
print("\n| (e) les | wall s | gpu_ms | readback_gpu_ms | gpu_thread_ms | readback_wait_ms | io_wait_ms "
      "| runs overlapped | host copies/frame |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
rows = [(f"N={n0} save-every 0", les0), (f"N={n0} save-every 1", les1), ("beside the rollout", load("bg"))]
for n in ns:
    jobs = [json.load(open(f)) for f in sorted(glob.glob(f"{work}/job_p{n}_*.json"))]
    rows.append((f"pipeline N={n}", next(j for j in jobs if j.get("kind") == "les")))
for name, j in rows:
    m = j.get("metrics", {})
    f = lambda k: f"{m[k]:.0f}" if k in m else "-"
    print(f"| {name} | {wall(j):.2f} | {f('gpu_ms')} | {f('readback_gpu_ms')} | {f('gpu_thread_ms')} | "
          f"{f('readback_wait_ms')} | {f('io_wait_ms')} | {f('runs_overlapped')}/{f('runs')} | "
          f"{m.get('host_copies_per_frame', '-')} |")
PY
