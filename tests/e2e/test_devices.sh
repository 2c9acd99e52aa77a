# End to end: one daemon drives a pool of devices (docs/architecture.md "The device pool").
# Lavapipe is one physical device; the test-only DASHI_TEST_LOGICAL_DEVICES=2 opens it as
# two logical devices (two VkDevices, each with its own GPU thread, plan cache, budget and
# resident cache). Checked: both are listed by ping and `dashi devices`; two long jobs run
# at once on different devices (their running intervals overlap); a pin is honoured and a
# bad one refused naming `device` with the list; a pipeline's stages stay on one device;
# fair share holds over the pool (a second uid's short job is served while root has four
# running); and a device lost (DASHI_VK_FAULT on device 1 only) takes only its own job
# down: device 0's job finishes, the pool keeps working and device 1 comes back.
. tests/e2e/lib.sh
need_second_user
export DASHI_TEST_LOGICAL_DEVICES=2
export DASHI_VK_FAULT=device_lost:usr1 DASHI_VK_FAULT_DEVICE=1
start_shared_daemon 'slice_ms = 50'
put_reference_rollout
show() { "$DASHI" --json --no-autostart show "$1"; }
# endless FILE: a rollout that runs until cancelled, never taken from an identical one.
endless() { "$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 1000000000 --hash-every 1000000 --no-reuse "$@"; }
# device_of ID: the pool index its running event names ("on device N (NAME)").
device_of() { show "$1" | "$PY" -c "import json,sys; d=json.load(sys.stdin)
print([e['detail'] for e in d['events'] if e['state'] == 'running'][-1].split()[2])"; }

# 1. The pool is listed.
"$DASHI" --json ping > "$WORK/ping.json"
[ "$(json "$WORK/ping.json" "[(x['index'], x['state']) for x in d['devices']]")" = "[(0, 'ok'), (1, 'ok')]" ] \
  || fail "ping does not list two ok devices: $(cat "$WORK/ping.json")"
[ "$("$DASHI" devices | grep -c llvmpipe)" = 2 ] || fail "dashi devices: $("$DASHI" devices)"
ok "ping and dashi devices list devices 0 and 1"

# 2. A bad pin is refused, naming the field and the devices; nothing is queued.
rc=0; "$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 10 --device 7 > "$WORK/bad.json" || rc=$?
[ $rc -eq 1 ] && [ "$(json "$WORK/bad.json" "d['error']['code'] + ' ' + d['error']['field']")" = 'E_BAD_VALUE device' ] \
  && grep -q '0: llvmpipe.*1: llvmpipe' "$WORK/bad.json" || fail "bad pin (exit $rc): $(cat "$WORK/bad.json")"
[ "$("$DASHI" --json list | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))')" = 0 ] \
  || fail "a refused pin queued a job"
ok "--device 7 refused: $(json "$WORK/bad.json" "d['error']['message']")"

# 3. Two long jobs run side by side on the two devices.
endless > "$WORK/l1.json"; L1=$(json "$WORK/l1.json" "d['id']")
endless > "$WORK/l2.json"; L2=$(json "$WORK/l2.json" "d['id']")
wait_state "$L1" running; wait_state "$L2" running
D1=$(device_of "$L1"); D2=$(device_of "$L2")
[ "$D1" != "$D2" ] || fail "both long jobs were placed on device $D1"
sleep 1
s1=$(show "$L1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["progress"]["step"])')
s2=$(show "$L2" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["progress"]["step"])')
"$DASHI" cancel "$L1" > /dev/null; "$DASHI" cancel "$L2" > /dev/null
wait_state "$L1" cancelled; wait_state "$L2" cancelled
show "$L1" > "$WORK/r1.json"; show "$L2" > "$WORK/r2.json"
"$PY" - "$WORK/r1.json" "$WORK/r2.json" <<'PY' || fail "the two jobs' running intervals do not overlap"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
print(f"job {a['id']}: {a['started_at']:.2f}..{a['ended_at']:.2f}, job {b['id']}: {b['started_at']:.2f}..{b['ended_at']:.2f}")
assert max(a['started_at'], b['started_at']) + 0.5 < min(a['ended_at'], b['ended_at'])
PY
[ "$s1" -gt 0 ] && [ "$s2" -gt 0 ] || fail "a job made no progress beside the other (steps $s1, $s2)"
ok "jobs $L1 and $L2 ran at once on devices $D1 and $D2 (steps $s1, $s2 after 1 s)"

# 4. A pin is honoured, whichever device is free.
for dev in 1 0; do
  "$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 20 --no-reuse --device "$dev" --wait > "$WORK/pin.json" \
    || fail "pinned job: $(cat "$WORK/pin.json")"
  P=$(json "$WORK/pin.json" "d['id']")
  [ "$(device_of "$P")" = "$dev" ] || fail "job $P pinned to device $dev ran on device $(device_of "$P")"
done
ok "pins to devices 1 and 0 honoured"

# 5. A pipeline's stages stay on one device (the consumer's inputs are resident there).
"$DASHI" --json submit pipeline --N 32 --steps 10 --decode-every 5 --observer snapshots --wait > "$WORK/pipe.json" \
  || fail "pipeline: $(cat "$WORK/pipe.json")"
STAGES=$(show "$(json "$WORK/pipe.json" "d['id']")" | "$PY" -c 'import json,sys; print(" ".join(str(s) for s in json.load(sys.stdin)["stages"].values()))')
DEVS=$(for s in $STAGES; do device_of "$s"; done | sort -u | tr '\n' ' ')
[ "$(echo $DEVS | wc -w)" = 1 ] || fail "the pipeline's stages $STAGES ran on devices $DEVS"
ok "pipeline stages $STAGES all ran on device $DEVS"

# 6. Fair share over the pool: root runs four endless jobs on the two devices; uid
# 65534's short job is served at once and finishes while they run.
ROOT_JOBS=
for k in 1 2 3 4; do endless > "$WORK/e$k.json"; ROOT_JOBS="$ROOT_JOBS $(json "$WORK/e$k.json" "d['id']")"; done
for j in $ROOT_JOBS; do wait_state "$j" running; done
sleep 1
as_nobody "$DASHI" --json --no-autostart submit rollout --op "$A" --z0 "$Z" --steps 60 --no-reuse --wait > "$WORK/short.json" \
  || fail "short job failed: $(cat "$WORK/short.json")"
"$PY" - "$WORK/short.json" <<'PY' || fail "uid 65534's short job was not served promptly"
import json, sys
d = json.load(open(sys.argv[1]))
waited, took = d['started_at'] - d['submitted_at'], d['ended_at'] - d['submitted_at']
print(f"short job: started {waited:.3f} s after submission, done after {took:.3f} s")
assert d['state'] == 'succeeded' and waited < 2.0 and took < 10.0, (waited, took)
PY
for j in $ROOT_JOBS; do [ "$(show "$j" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["state"])')" = running ] \
  || fail "root's job $j is no longer running"; done
for j in $ROOT_JOBS; do "$DASHI" cancel "$j" > /dev/null; done
for j in $ROOT_JOBS; do wait_state "$j" cancelled; done
ok "uid 65534's short job served while root's four jobs ran on the pool"

# 7. Device 1 lost: its job is interrupted; device 0's job (pinned) goes on and finishes;
# a queued job runs; device 1 is re-created.
endless --device 1 > "$WORK/v1.json"
V1=$(json "$WORK/v1.json" "d['id']")
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 3000 --no-reuse --device 0 > "$WORK/v0.json"
V0=$(json "$WORK/v0.json" "d['id']")
wait_state "$V1" running; wait_state "$V0" running
kill -USR1 "$DAEMON_PID"
wait_state "$V1" interrupted
show "$V0" > "$WORK/v0s.json"
[ "$(json "$WORK/v0s.json" "d['state']")" != interrupted ] || fail "device 1's loss interrupted device 0's job"
"$DASHI" --json wait "$V0" > "$WORK/v0w.json" || true
[ "$(json "$WORK/v0w.json" "d['state']")" = succeeded ] || fail "device 0's job: $(cat "$WORK/v0w.json")"
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 20 --no-reuse --wait > "$WORK/after.json" \
  || fail "the pool does not run a job after device 1's loss: $(cat "$WORK/after.json")"
"$DASHI" --json ping > "$WORK/ping2.json"
[ "$(json "$WORK/ping2.json" "[(x['state'], x['resets']) for x in d['devices']]")" = "[('ok', 0), ('ok', 1)]" ] \
  || fail "after the loss: $(json "$WORK/ping2.json" "d['devices']")"
grep -q 'device 1 (.*) was lost' "$WORK/dashid.log" || fail "the log does not name device 1 as lost"
ok "device 1 lost: job $V1 interrupted, job $V0 on device 0 succeeded, the pool went on, device 1 re-created"
stop_daemon
