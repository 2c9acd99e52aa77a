# End to end: the daemon survives the loss of its GPU device. Lavapipe never loses its
# device, so the Vulkan runtime's fault-injection knob (DASHI_VK_FAULT, docs/cli.md) makes
# a queue submission return VK_ERROR_DEVICE_LOST at the moment the test chooses (SIGUSR1),
# during an LES job that has a checkpoint while another job waits in the queue. Then:
# the running job is interrupted with its checkpoint and resumes to success; the daemon
# answers ping throughout, reports the device lost while re-creating it fails (injected
# twice more: new jobs are refused with E_NO_GPU meanwhile) and then one reset; the queued
# job runs on the re-created device and its outputs equal, hash for hash, those of the
# same job run before the loss (the re-created pipelines and FFT plans compute the same).
# And out of device memory, injected: the job fails with E_DEVICE_MEMORY, the next succeeds.
# Under ASan the daemon's clean exit also says the recovery path leaks nothing.
. tests/e2e/lib.sh

ping_field() { "$DASHI" --json --no-autostart ping > "$WORK/ping.json" || fail "ping failed: the daemon does not answer"
               json "$WORK/ping.json" "d['$1']"; }
# poll SECONDS PYTHON-CONDITION CMD...: runs CMD (its JSON into $WORK/poll.json) until the
# condition over it holds; fails after SECONDS.
poll() {
  limit=$(($1 * 10)); cond=$2; shift 2; i=0
  while :; do
    "$@" > "$WORK/poll.json" || fail "'$*' failed while polling (the daemon stopped answering?)"
    [ "$(json "$WORK/poll.json" "$cond")" = True ] && return 0
    i=$((i + 1)); [ $i -lt "$limit" ] || { cat "$WORK/poll.json"; fail "'$cond' never held within $limit/10 s"; }
    sleep 0.1
  done
}
show() { "$DASHI" --json --no-autostart show "$1"; }
REF_ARGS="--N 64 --steps 100 --save-every 20"

# 1. A plain daemon: the reference run of part 2, this machine's speed, the memory estimates.
start_daemon
"$DASHI" --json submit les $REF_ARGS --wait > "$WORK/ref.json" || { cat "$WORK/ref.json"; fail "the reference run"; }
# Steps for ~30 s of this machine: the first LES checkpoint comes after 10 s of running.
# (steps_per_s times the steps alone: the short run's wall time is mostly its start)
RATE=$(json "$WORK/ref.json" "d['metrics']['steps_per_s']")
STEPS=$("$PY" -c "print(max(400, int($RATE * 30) // 10 * 10))")
"$DASHI" --json submit les --N 64 --steps "$STEPS" --save-every 0 > "$WORK/est.json"
EST_LONG=$(json "$WORK/est.json" "d['mem_estimate']")
EST_REF=$(json "$WORK/ref.json" "d['mem_estimate']")
"$DASHI" cancel "$(json "$WORK/est.json" "d['id']")" > /dev/null
stop_daemon
echo "# $RATE steps/s: the long LES takes $STEPS steps"

# 2. Device loss. The budget fits either job alone, not both: the second one stays queued.
BUDGET=$("$PY" -c "print(max($EST_LONG, $EST_REF) + min($EST_LONG, $EST_REF) // 2)")
printf 'device_memory_budget = %s\ncheckpoint_every_s = 1\n' "$BUDGET" > "$WORK/dashid.conf"
export DASHI_VK_FAULT=device_lost:usr1,recreate_fail:3
start_daemon --config "$WORK/dashid.conf"
LONG=$("$DASHI" --json submit les --N 64 --steps "$STEPS" --save-every 0 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
poll 120 "d['checkpoint'] is not None or d['state'] not in ('queued', 'running')" show "$LONG"
[ "$(json "$WORK/poll.json" "d['state']")" = running ] || { cat "$WORK/poll.json"; fail "the long job ended before its first checkpoint"; }
CK_STEP=$(json "$WORK/poll.json" "d['checkpoint']['step']")
QUEUED=$("$DASHI" --json submit les $REF_ARGS --no-reuse | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
sleep 0.5
show "$QUEUED" > "$WORK/queued.json"
[ "$(json "$WORK/queued.json" "d['state']")" = queued ] \
  || fail "the second job is not queued behind the first (device_memory_budget $BUDGET): $(cat "$WORK/queued.json")"
ok "job $LONG runs with a checkpoint at step $CK_STEP; job $QUEUED is queued"

kill -USR1 "$DAEMON_PID"
poll 60 "d['state'] not in ('queued', 'running')" show "$LONG"
cp "$WORK/poll.json" "$WORK/long.json"
[ "$(json "$WORK/long.json" "d['state'], d['error']['code']")" = "interrupted E_INTERRUPTED" ] \
  || { cat "$WORK/long.json"; fail "the job running at the loss is not interrupted"; }
json "$WORK/long.json" "d['error']['message']" | grep -q "device was lost" || fail "the error does not say the device was lost"
[ "$(json "$WORK/long.json" "d['checkpoint']['step'] >= $CK_STEP")" = True ] || fail "the interrupted job lost its checkpoint"
ok "job $LONG is interrupted with its checkpoint: $(json "$WORK/long.json" "d['error']['message']")"

poll 60 "d['device_state'] == 'lost'" "$DASHI" --json --no-autostart ping
ok "ping answers while the device is lost: $(json "$WORK/poll.json" "d['device_error']")"
rc=0; "$DASHI" --json submit les --N 64 --steps 4 > "$WORK/refused.json" 2>&1 || rc=$?
[ $rc -ne 0 ] && grep -q E_NO_GPU "$WORK/refused.json" \
  || { cat "$WORK/refused.json"; fail "a job submitted while the device is lost was not refused with E_NO_GPU"; }
ok "a job submitted meanwhile is refused with E_NO_GPU (dashi exit status $rc)"
poll 60 "d['device_state'] == 'ok'" "$DASHI" --json --no-autostart ping
[ "$(json "$WORK/poll.json" "d['device_resets']")" = 1 ] || { cat "$WORK/poll.json"; fail "device_resets is not 1"; }
ok "the device is re-created: device_state ok, device_resets 1"

"$DASHI" --json wait "$QUEUED" > "$WORK/queued.json" || { cat "$WORK/queued.json"; fail "the queued job failed on the re-created device"; }
[ "$(json "$WORK/queued.json" "sorted(d['outputs'].items())")" = "$(json "$WORK/ref.json" "sorted(d['outputs'].items())")" ] \
  || fail "the queued job's outputs differ from the same job's before the loss"
ok "job $QUEUED ran on the re-created device; its $(json "$WORK/ref.json" "len(d['outputs'])") outputs equal the run before the loss"

"$DASHI" --json resume "$LONG" > /dev/null || fail "resume of the interrupted job refused"
"$DASHI" --json wait "$LONG" > "$WORK/resumed.json" || { cat "$WORK/resumed.json"; fail "the resumed job failed"; }
ok "job $LONG resumed from step $(json "$WORK/long.json" "d['checkpoint']['step']") and succeeded"
[ "$(ping_field device_state) $(ping_field device_resets)" = "ok 1" ] || fail "the device state changed again"
stop_daemon
grep -q "was re-created" "$WORK/dashid.log" || fail "the log does not record the re-creation"
ok "the daemon exits cleanly after the recovery"

# 3. Out of device memory: the first job's allocation and its retry (after the daemon
# released what it caches) fail; the job fails saying so, the next one succeeds.
export DASHI_VK_FAULT=oom:1:2
start_daemon
rc=0; "$DASHI" --json submit les $REF_ARGS --no-reuse --wait > "$WORK/oom.json" || rc=$?
[ "$(json "$WORK/oom.json" "d['state'], d['error']['code']")" = "failed E_DEVICE_MEMORY" ] \
  || { cat "$WORK/oom.json"; fail "the job that ran out of device memory did not fail with E_DEVICE_MEMORY"; }
[ $rc -ne 0 ] || fail "dashi exited 0 for a failed job"
json "$WORK/oom.json" "d['error']['message']" | grep -q "out of device memory" || fail "the message does not say why"
"$DASHI" --json submit les $REF_ARGS --no-reuse --wait > "$WORK/after.json" || { cat "$WORK/after.json"; fail "the job after the OOM"; }
[ "$(json "$WORK/after.json" "sorted(d['outputs'].items())")" = "$(json "$WORK/ref.json" "sorted(d['outputs'].items())")" ] \
  || fail "the job after the OOM computed other outputs"
[ "$(ping_field device_state) $(ping_field device_resets)" = "ok 0" ] || fail "out of memory was taken for a device loss"
ok "injected OOM: $(json "$WORK/oom.json" "d['error']['message']"); the next job succeeds"
stop_daemon
