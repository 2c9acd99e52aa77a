# End to end: jobs that consume other jobs' outputs. A rollout given `--z0 JOB` waits for
# that job, then starts from its z_final; in exact mode 300+300 steps equal 600 steps bit
# for bit. A dependent of a cancelled job fails instead of waiting forever.
. tests/e2e/lib.sh
start_daemon
A=$("$DASHI" put tests/data/A.npy)
Z=$("$DASHI" put tests/data/z_t0000.npy)
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 300 --hash-every 0 > "$WORK/j1.json"
J1=$(json "$WORK/j1.json" "d['id']")
"$DASHI" --json submit rollout --op "$A" --z0 "$J1" --steps 300 --hash-every 0 > "$WORK/j2.json"
J2=$(json "$WORK/j2.json" "d['id']")
[ "$(json "$WORK/j2.json" "d['params']['z0']")" = "$J1" ] || fail "the dependent's params should name job $J1"
"$DASHI" --json wait "$J2" > "$WORK/w2.json" || fail "dependent job failed: $(cat "$WORK/w2.json")"
"$DASHI" --json show "$J1" > "$WORK/s1.json"
[ "$(json "$WORK/w2.json" "d['inputs']['z0']")" = "$(json "$WORK/s1.json" "d['outputs']['z_final']")" ] \
  || fail "the dependent did not start from job $J1's z_final"
json "$WORK/w2.json" "d['started_at'] >= $(json "$WORK/s1.json" "d['ended_at']")" | grep -qx True \
  || fail "the dependent started before its dependency ended"
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 600 --hash-every 0 --wait > "$WORK/j3.json"
[ "$(json "$WORK/j3.json" "d['outputs']['z_final']")" = "$(json "$WORK/w2.json" "d['outputs']['z_final']")" ] \
  || fail "300 + 300 chained steps differ from 600 steps"
ok "chained rollout waits for its dependency and equals one long rollout bit for bit"

"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 1000000000 --hash-every 0 > "$WORK/l.json"
L=$(json "$WORK/l.json" "d['id']")
"$DASHI" --json submit rollout --op "$A" --z0 "$L" --steps 10 > "$WORK/d.json"
D=$(json "$WORK/d.json" "d['id']")
"$DASHI" --json submit rollout --op "$A" --z0 "$D" --steps 10 > "$WORK/dd.json"
DD=$(json "$WORK/dd.json" "d['id']")
wait_state "$L" running
"$DASHI" cancel "$L" > /dev/null
rc=0; "$DASHI" --json wait "$D" > "$WORK/wd.json" || rc=$?
[ "$(json "$WORK/wd.json" "d['state']")" = failed ] && [ "$(json "$WORK/wd.json" "d['error']['code']")" = E_STATE ] \
  || fail "dependent of a cancelled job: $(cat "$WORK/wd.json")"
[ $rc -eq 2 ] || fail "wait exit status $rc"
wait_state "$DD" failed
ok "dependents of a cancelled job fail, transitively"

rc=0; "$DASHI" --json submit rollout --op "$A" --z0 "$L" --steps 10 > "$WORK/e.json" 2>/dev/null || rc=$?
[ "$(json "$WORK/e.json" "d['error']['code']")" = E_STATE ] || fail "referring to a cancelled job must be refused"
ok "a reference to a cancelled job is refused at submit"
stop_daemon
