# End to end against a real Slurm (docs/cluster.md): a 3-node Slurm 22.05 on this machine
# (tests/e2e/slurm_cluster.sh) runs `dashid --run` as its batch jobs. A sweep of 6 small les
# runs as one --array across n1..n3; every bundle is imported by a catalogue with executor
# slurm, its array job id and its node. A long rollout cancelled with scancel shows
# CANCELLED in Slurm, and its bundle is imported as interrupted with its checkpoint.
. tests/e2e/lib.sh
for b in slurmctld slurmd munged; do
  [ -x /usr/sbin/$b ] || { echo "SKIP: $b is not installed (make deps installs slurmctld slurmd slurm-client munge)"; exit 0; }
done
. tests/e2e/slurm_cluster.sh
trap 'slurm_stop; cleanup' EXIT
slurm_start
spec() { "$PY" -c "import msgpack, sys; open(sys.argv[1], 'wb').write(msgpack.packb($2))" "$1"; }
# array_done JOB: waits (at most ~150 s) until Slurm has no task of JOB pending or running.
array_done() {
  i=0
  while [ -n "$(squeue -h -j "$1" 2>/dev/null)" ]; do
    i=$((i + 1)); [ $i -lt 1500 ] || { squeue; fail "Slurm job $1 did not end"; }
    sleep 0.1
  done
}

OUT="$WORK/out"; mkdir "$OUT"
spec "$WORK/sweep.msgpack" "{'kind': 'les', 'args': {'N': 32, 'steps': 20, 'save_every': 5, 'mode': 'reference'}, 'vary': {'seed': [0, 1, 2, 3, 4, 5]}}"
printf '#!/bin/sh\nexec "%s" --run "%s" --bundle "%s/b-$SLURM_ARRAY_TASK_ID"\n' "$DASHID" "$WORK/sweep.msgpack" "$OUT" > "$WORK/sweep.sh"
J=$(sbatch --parsable --array=0-5 --gres=gpu:1 -o "$OUT/slurm-%A_%a.out" "$WORK/sweep.sh") || fail "sbatch refused the sweep"
array_done "$J"
start_daemon
NODES=
for k in 0 1 2 3 4 5; do
  [ -f "$OUT/b-$k/bundle.msgpack" ] || { cat "$OUT"/slurm-*_$k.out; fail "task $k wrote no bundle"; }
  I=$("$DASHI" import "$OUT/b-$k") || fail "import of task $k"
  "$DASHI" --json show "$I" > "$WORK/t$k.json"
  [ "$(json "$WORK/t$k.json" "d['state'], d['executor'], d['slurm_job_id'], d['params']['seed']")" = "succeeded slurm ${J}_$k $k" ] \
    || fail "task $k: $(cat "$WORK/t$k.json")"
  NODES="$NODES $(json "$WORK/t$k.json" "d['node']")"
done
for n in $NODES; do case $n in n[1-3]) ;; *) fail "a node that is not n1..n3: $n" ;; esac; done
[ "$(echo "$NODES" | tr ' ' '\n' | grep '^n' | sort -u | wc -l)" -ge 2 ] || fail "the sweep ran on one node only:$NODES"
ok "a sweep of 6 ran as one Slurm array on$NODES; each bundle imported with its job id and node"

mkdir "$WORK/inputs"
A=$(blob_address tests/data/A.npy); Z=$(blob_address tests/data/z_t0000.npy)
cp tests/data/A.npy "$WORK/inputs/$A.npy"; cp tests/data/z_t0000.npy "$WORK/inputs/$Z.npy"
spec "$WORK/long.msgpack" "{'kind': 'rollout', 'args': {'op': '$A', 'z0': '$Z', 'steps': 1000000000, 'hash_every': 1000000}}"
printf '#!/bin/sh\nexec "%s" --run "%s" --bundle "%s/long" --inputs "%s"\n' "$DASHID" "$WORK/long.msgpack" "$OUT" "$WORK/inputs" > "$WORK/long.sh"
L=$(sbatch --parsable --gres=gpu:1 -o "$OUT/slurm-long.out" "$WORK/long.sh") || fail "sbatch refused the rollout"
i=0
until ls "$OUT"/long.run-*/state/blobs > /dev/null 2>&1 && [ "$(squeue -h -j "$L" -o %T)" = RUNNING ]; do
  i=$((i + 1)); [ $i -lt 900 ] || { cat "$OUT/slurm-long.out"; fail "the rollout never ran"; }
  sleep 0.1
done
sleep 4
scancel "$L"
array_done "$L"
scontrol show job "$L" | grep -q "JobState=CANCELLED" || { scontrol show job "$L"; fail "Slurm does not show job $L cancelled"; }
[ -f "$OUT/long/bundle.msgpack" ] || { cat "$OUT/slurm-long.out"; fail "the cancelled job wrote no bundle"; }
I=$("$DASHI" import "$OUT/long")
"$DASHI" --json show "$I" > "$WORK/long.json"
[ "$(json "$WORK/long.json" "d['state'], d['executor'], d['slurm_job_id'], d['checkpoint'] is not None")" = "interrupted slurm $L True" ] \
  || fail "the cancelled job: $(cat "$WORK/long.json")"
ok "scancel: Slurm shows the job CANCELLED, its bundle is interrupted with its checkpoint"
stop_daemon
