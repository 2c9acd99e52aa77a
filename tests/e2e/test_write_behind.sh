# End to end: write-behind (docs/architecture.md "Threads", the I/O thread). An LES's
# trajectory is written by the I/O thread from staging buffers:
# (i) its frames are the fields the solver reached: frame k equals omega_final of the
#     same LES run for k steps, and the trajectory's bytes do not depend on the staging
#     pool (a 64 KiB pool, with a slowed I/O thread, gives the same hash);
# (ii) while that slowed writer waits on I/O, a short job submitted after it finishes
#     first: the writer does not hold the GPU;
# (iii) kill -9 during write-behind, twice: the job is interrupted with a checkpoint and
#     resumes to the same trajectory; fsck is clean (no partial blob served);
# (v) SIGTERM with writes in flight: the daemon drains the queue, exits cleanly (ASan/LSan
#     under build/san) and the job, interrupted, resumes to the same trajectory.
. tests/e2e/lib.sh
STEPS=300
# --no-reuse: the runs repeat one another on purpose (reuse would answer them at once).
les() { "$DASHI" --json submit les --no-reuse --N 32 --seed 3 "$@"; }
traj() { json "$1" "d['outputs']['trajectory']"; }

# ---- (i) the default pool, no fault
start_daemon
les --steps $STEPS --save-every 1 --wait > "$WORK/ref.json" || fail "reference run"
REF=$(traj "$WORK/ref.json")
"$DASHI" get "$REF" -o "$WORK/traj.npy" > /dev/null || fail "get trajectory"
for k in 1 150 $STEPS; do
  les --steps $k --save-every 0 --wait > "$WORK/k.json" || fail "run of $k steps"
  "$DASHI" get "$(json "$WORK/k.json" "d['outputs']['omega_final']")" -o "$WORK/w$k.npy" > /dev/null || fail "get"
  "$PY" -c "import numpy as np, sys; t = np.load('$WORK/traj.npy'); w = np.load('$WORK/w$k.npy')
sys.exit(0 if t.shape == ($STEPS + 1, 32, 32) and np.array_equal(t[$k], w) else 1)" \
    || fail "trajectory frame $k differs from omega_final after $k steps"
done
ok "trajectory frames 1, 150, $STEPS equal the fields of runs of that many steps"
stop_daemon

# ---- a 64 KiB staging pool (4 frames) and 15 ms before each write: the writer waits on I/O
printf 'io_staging_bytes = 64K\ncheckpoint_every_s = 0.3\n' > "$WORK/slow.conf"
export DASHI_IO_FAULT=delay_ms:15
start_daemon --config "$WORK/slow.conf"
grep -q "DASHI_IO_FAULT=delay_ms:15" "$WORK/dashid.log" || fail "the daemon did not take DASHI_IO_FAULT"
les --steps $STEPS --save-every 1 > "$WORK/big.json" || fail "submit the writer"
BIG=$(json "$WORK/big.json" "d['id']")
wait_state "$BIG" running
les --steps 200 --save-every 0 --wait > "$WORK/short.json" || fail "the short job"
"$DASHI" --json status "$BIG" > "$WORK/s.json"
[ "$(json "$WORK/s.json" "d['state']")" = running ] \
  || fail "the writer should still run when the short job ends: $(cat "$WORK/s.json")"
ok "a short job submitted after a writer waiting on I/O finished first"
"$DASHI" --json wait "$BIG" > "$WORK/big.json" || fail "the writer failed: $(cat "$WORK/big.json")"
[ "$(traj "$WORK/big.json")" = "$REF" ] || fail "trajectory with a 64 KiB pool: $(traj "$WORK/big.json") != $REF"
ok "the same trajectory bytes through a 64 KiB pool and a slowed I/O thread"

# ---- (iii) kill -9 twice during write-behind, then resume
les --steps $STEPS --save-every 1 > "$WORK/k.json" || fail "submit"
K=$(json "$WORK/k.json" "d['id']")
for min in 20 120; do
  kill9_after_checkpoint "$K" $min
  start_daemon --config "$WORK/slow.conf"
  "$DASHI" --json show "$K" > "$WORK/f.json"
  [ "$(json "$WORK/f.json" "d['state']")" = interrupted ] || fail "killed job not interrupted: $(cat "$WORK/f.json")"
  "$DASHI" fsck > "$WORK/fsck.txt" || fail "fsck after kill -9: $(cat "$WORK/fsck.txt")"
  ok "kill -9 at checkpoint step $(json "$WORK/f.json" "d['checkpoint']['step']"): interrupted, fsck clean"
  "$DASHI" --json resume "$K" > /dev/null || fail "resume"
done
"$DASHI" --json wait "$K" > "$WORK/r.json" || fail "resumed job failed: $(cat "$WORK/r.json")"
[ "$(traj "$WORK/r.json")" = "$REF" ] || fail "resumed trajectory $(traj "$WORK/r.json") != $REF"
ok "resumed twice after kill -9: the same trajectory"

# ---- (v) SIGTERM with writes queued
les --steps $STEPS --save-every 1 > "$WORK/t.json" || fail "submit"
T=$(json "$WORK/t.json" "d['id']")
wait_state "$T" running
sleep 1
stop_daemon # fails unless the exit is clean (and, under the sanitizers, leak-free)
grep -q "stopping (SIGTERM)" "$WORK/dashid.log" || fail "no orderly stop in the log"
unset DASHI_IO_FAULT
start_daemon
"$DASHI" --json show "$T" > "$WORK/f.json"
[ "$(json "$WORK/f.json" "d['state']")" = interrupted ] || fail "stopped job not interrupted: $(cat "$WORK/f.json")"
"$DASHI" --json resume "$T" > /dev/null || fail "resume"
"$DASHI" --json wait "$T" > "$WORK/r.json" || fail "resumed job failed: $(cat "$WORK/r.json")"
[ "$(traj "$WORK/r.json")" = "$REF" ] || fail "trajectory after a stop mid-write: $(traj "$WORK/r.json") != $REF"
"$DASHI" fsck > "$WORK/fsck.txt" || fail "fsck: $(cat "$WORK/fsck.txt")"
ok "SIGTERM mid-write: clean exit, the queue drained, interrupted, resumed to the same trajectory"
stop_daemon
