# End to end: device-resident results (docs/architecture.md "Device-resident results"). A
# pipeline (les -> train -> rollout -> decode) with the resident cache on: train binds the
# LES trajectory on the device (input_resident.traj = 1), and so does decode for its truth
# (input_resident.truth = 1); every output of the four jobs equals, hash for hash, and the
# decode's scores equal, value for value, the same pipeline with resident_bytes = 0 (the
# disk path). Then:
# a resident budget too small for the trajectory streams it (read from disk, same hashes);
# a budget for one trajectory: a second LES with a waiting consumer evicts the first,
# whose next consumer reads the disk; admission: a train that fits the device budget only
# without the resident trajectory runs (the trajectory is evicted, not the job refused),
# while a job over the budget even with an empty cache is refused; a device loss while
# a trajectory is resident interrupts its consumer; submitted again it reads the disk, with
# the same outputs.
# Each daemon stops with entries resident: under ASan its clean exit says nothing leaked.
. tests/e2e/lib.sh

N=32; STEPS=60
PIPE_ARGS="--N $N --steps $STEPS --decode-every 10"
# The four jobs' outputs of a pipeline summary (FILE) as "kind name hash" lines.
pipeline_outputs() {
  for kind in les train rollout decode; do
    "$DASHI" --json show "$(json "$1" "d['jobs']['$kind']")" > "$WORK/o.json"
    json "$WORK/o.json" "'\n'.join('$kind %s %s' % kv for kv in sorted(d['outputs'].items()))"
  done
}
# resident_flag ID [INPUT]: the job's input_resident.INPUT summary (1 bound on the device, 0 from disk).
resident_flag() {
  "$DASHI" --json show "$1" > "$WORK/flag.json"
  json "$WORK/flag.json" "int(d['metrics']['input_resident.${2:-traj}'])"
}
# decode_scores ID: the decode's scores against its truth (metrics, not outputs: compared apart).
decode_scores() {
  "$DASHI" --json show "$1" > "$WORK/scores.json"
  json "$WORK/scores.json" "' '.join('%s=%r' % (k, d['metrics'][k]) for k in sorted(d['metrics']) if k.split('_')[0] in ('relL2', 'corr', 'dE', 'dZ'))"
}
# --no-reuse: several jobs here repeat earlier ones on purpose (reuse would answer them at once).
submit_id() { "$DASHI" --json submit "$@" --no-reuse | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
outputs_of() { "$DASHI" --json show "$1" > "$WORK/out.json"; json "$WORK/out.json" "sorted(d['outputs'].items())"; }
config_daemon() { # CONFIG_LINE...: a daemon on a fresh state directory with these lines
  export DASHI_STATE_DIR="$WORK/state$((RUN = ${RUN:-0} + 1))"
  : > "$WORK/dashid.conf"
  for line in "$@"; do printf '%s\n' "$line" >> "$WORK/dashid.conf"; done
  start_daemon --config "$WORK/dashid.conf"
}

# 1. Resident (the default budget) against the disk path.
config_daemon
"$DASHI" --json submit pipeline $PIPE_ARGS --wait > "$WORK/res.json" || { cat "$WORK/res.json"; fail "resident pipeline"; }
TRAIN=$(json "$WORK/res.json" "d['jobs']['train']")
[ "$(resident_flag "$TRAIN")" = 1 ] || fail "train did not bind the LES trajectory on the device"
DECODE=$(json "$WORK/res.json" "d['jobs']['decode']")
[ "$(resident_flag "$DECODE" truth)" = 1 ] || fail "decode did not bind the LES trajectory (its truth) on the device"
pipeline_outputs "$WORK/res.json" > "$WORK/res.out"
decode_scores "$DECODE" > "$WORK/res.scores"
# The reference train of parts 3-5 (a plain LES, kept while there is room, then a train on
# it); the trajectory stays resident when the daemon stops: the stop must free it.
L=$(submit_id les --N $N --steps $STEPS)
wait_state "$L" succeeded
T=$(submit_id train --traj "$L")
wait_state "$T" succeeded
[ "$(resident_flag "$T")" = 1 ] || fail "a trajectory with room in the cache was not kept for a later consumer"
"$DASHI" --json show "$T" > "$WORK/train.json"
EST_TRAIN=$(json "$WORK/train.json" "d['mem_estimate']")
stop_daemon
ok "pipeline: train bound the trajectory on the device; clean stop with a result resident"

config_daemon "resident_bytes = 0"
"$DASHI" --json submit pipeline $PIPE_ARGS --wait > "$WORK/disk.json" || fail "disk pipeline"
[ "$(resident_flag "$(json "$WORK/disk.json" "d['jobs']['train']")")" = 0 ] || fail "resident_bytes = 0 kept a result"
DECODE=$(json "$WORK/disk.json" "d['jobs']['decode']")
[ "$(resident_flag "$DECODE" truth)" = 0 ] || fail "resident_bytes = 0: decode bound its truth on the device"
pipeline_outputs "$WORK/disk.json" > "$WORK/disk.out"
cmp "$WORK/res.out" "$WORK/disk.out" || { diff "$WORK/res.out" "$WORK/disk.out"; fail "resident and disk outputs differ"; }
decode_scores "$DECODE" > "$WORK/disk.scores"
grep -q relL2_mean "$WORK/disk.scores" || { cat "$WORK/disk.scores"; fail "the decode has no scores"; }
cmp "$WORK/res.scores" "$WORK/disk.scores" || { diff "$WORK/res.scores" "$WORK/disk.scores"; fail "decode scores differ resident vs disk"; }
stop_daemon
ok "all $(wc -l < "$WORK/res.out") outputs of the pipeline are identical with resident_bytes = 0 (the disk path)"

# 2. A budget below the trajectory's bytes: it streams as without a cache.
TRAJ=$(( (STEPS + 1) * N * N * 8 ))
config_daemon "resident_bytes = $((TRAJ / 2))"
"$DASHI" --json submit pipeline $PIPE_ARGS --wait > "$WORK/small.json" || fail "pipeline with a small budget"
[ "$(resident_flag "$(json "$WORK/small.json" "d['jobs']['train']")")" = 0 ] || fail "a trajectory over resident_bytes was kept"
pipeline_outputs "$WORK/small.json" > "$WORK/small.out"
cmp "$WORK/res.out" "$WORK/small.out" || fail "outputs differ with a resident budget below the trajectory"
stop_daemon
ok "resident_bytes below the trajectory: streamed, read from disk, identical outputs"

# 3. Room for one longer trajectory: B (a consumer waiting) evicts A, whose consumer reads the disk.
LONG=$((STEPS * 3))
config_daemon "resident_bytes = $(( (LONG + 1) * N * N * 8 ))"
A=$(submit_id les --N $N --steps $STEPS)
wait_state "$A" succeeded
B=$(submit_id les --N $N --steps $LONG --seed 3)
TB=$(submit_id train --traj "$B")
wait_state "$TB" succeeded
[ "$(resident_flag "$TB")" = 1 ] || fail "the second trajectory, with its consumer waiting, was not kept"
TA=$(submit_id train --traj "$A")
wait_state "$TA" succeeded
[ "$(resident_flag "$TA")" = 0 ] || fail "the first trajectory was not evicted for the second"
[ "$(outputs_of "$TA")" = "$(json "$WORK/train.json" "sorted(d['outputs'].items())")" ] \
  || fail "train on the evicted trajectory differs from the resident run's"
stop_daemon
ok "eviction: the least recently used trajectory made room; its consumer read the disk, same outputs"

# 4. Admission: the device budget fits the train, or the trajectory beside the LES, not both.
BUDGET=$((EST_TRAIN + TRAJ / 2))
config_daemon "device_memory_budget = $BUDGET" "resident_bytes = $((TRAJ * 2))"
L=$(submit_id les --N $N --steps $STEPS)
wait_state "$L" succeeded
T=$(submit_id train --traj "$L")
wait_state "$T" succeeded
[ "$(resident_flag "$T")" = 0 ] || fail "the train ran beside a resident trajectory over the device budget $BUDGET"
[ "$(outputs_of "$T")" = "$(json "$WORK/train.json" "sorted(d['outputs'].items())")" ] || fail "admission: outputs differ"
"$DASHI" --json submit les --N 1024 --steps 10 > "$WORK/big.json" 2>&1 && fail "a job over the device budget was accepted"
grep -q E_DEVICE_MEMORY "$WORK/big.json" || { cat "$WORK/big.json"; fail "the job over the budget: not E_DEVICE_MEMORY"; }
stop_daemon
ok "admission: resident bytes gave way to a job that fits only without them; over the budget: E_DEVICE_MEMORY"

# 5. Device loss while a trajectory is resident: the consumer is interrupted; again, it reads the disk.
export DASHI_VK_FAULT=device_lost:usr1
config_daemon
L=$(submit_id les --N $N --steps $STEPS)
wait_state "$L" succeeded
kill -USR1 "$DAEMON_PID"
sleep 0.5
T=$(submit_id train --traj "$L")
wait_state "$T" interrupted
T=$(submit_id train --traj "$L") # a train has no checkpoint to resume from: submitted again
wait_state "$T" succeeded
[ "$(resident_flag "$T")" = 0 ] || fail "after the device loss the train still bound a resident trajectory"
[ "$(outputs_of "$T")" = "$(json "$WORK/train.json" "sorted(d['outputs'].items())")" ] || fail "device loss: outputs differ"
stop_daemon
unset DASHI_VK_FAULT
ok "device loss with a trajectory resident: the train submitted again read it from disk, same outputs"
