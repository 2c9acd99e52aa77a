# End to end: fair share between users. Root keeps the GPU busy with a long rollout;
# uid 65534 then submits a short one, which must finish within a few slices (bounded
# wall time) while root's job is still running: long jobs never starve short ones.
. tests/e2e/lib.sh
need_second_user
start_shared_daemon 'slice_ms = 50'
put_reference_rollout

submit_endless_rollout "$WORK/long.json"
LONG=$(json "$WORK/long.json" "d['id']")
wait_state "$LONG" running
sleep 1 # root has used the GPU for a while: its decayed usage is well above zero

# 60 steps: a few slices of 50 ms on lavapipe (about 1.4 ms a step).
t0=$(date +%s.%N)
as_nobody "$DASHI" --json --no-autostart submit rollout --op "$A" --z0 "$Z" --steps 60 --wait > "$WORK/short.json" \
  || fail "short job failed: $(cat "$WORK/short.json")"
t1=$(date +%s.%N)
[ "$(json "$WORK/short.json" "d['state']")" = succeeded ] || fail "short job state"
"$DASHI" --json status "$LONG" > "$WORK/ls.json"
[ "$(json "$WORK/ls.json" "d['state']")" = running ] || fail "the long job should still be running"
# Bounded: from submission to the end it got the GPU within a few slices. The bound
# is generous for slow CI (the job itself needs about 0.1 s of GPU time).
"$PY" - "$WORK/short.json" "$t0" "$t1" <<'PY' || fail "short job was not served promptly"
import json, sys
d = json.load(open(sys.argv[1]))
waited = d['started_at'] - d['submitted_at']
took = d['ended_at'] - d['submitted_at']
wall = float(sys.argv[3]) - float(sys.argv[2])
print(f"short job: started {waited:.3f} s after submission, done after {took:.3f} s (client saw {wall:.3f} s)")
assert waited < 1.0, waited
assert took < 5.0, took
PY
ok "uid 65534's short job finished while root's long job runs"
"$DASHI" cancel "$LONG" > /dev/null
wait_state "$LONG" cancelled
stop_daemon
