# End to end: reuse of identical work (docs/storage.md "Job identity"). A job identical to a
# succeeded one takes its results at once (reused_from, 0 GPU seconds, the same outputs,
# metrics and hashes); --no-reuse runs it (and must give the same hashes); a different
# parameter or input, a missing output blob or another user's private original means a run.
# The identity survives a restart.
. tests/e2e/lib.sh
need_second_user
start_shared_daemon

LES="les --N 32 --steps 20 --save-every 5 --mode reference"
show() { "$DASHI" --json --no-autostart show "$1" > "$WORK/show-$1.json"; }
field() { json "$WORK/show-$1.json" "$2"; }
# canon ID Q: the answer of `dashi Q ID` without the id, canonical.
canon() {
  "$DASHI" --json --no-autostart "$2" "$1" | "$PY" -c "import json,sys
d=json.load(sys.stdin); d.pop('id', None); print(json.dumps(d, sort_keys=True))"
}
# same_outputs A B: jobs A and B have the same outputs and state hashes (a determinism check
# for two runs: their timing metrics differ).
same_outputs() {
  show "$1"; show "$2"
  [ "$(field "$1" "d['outputs']")" = "$(field "$2" "d['outputs']")" ] || fail "outputs of $1 and $2 differ"
  [ "$(canon "$1" hashes)" = "$(canon "$2" hashes)" ] || fail "hashes of $1 and $2 differ"
}
# same_results A B: B reused A: the same outputs, hashes, metrics and summary.
same_results() {
  same_outputs "$1" "$2"
  [ "$(canon "$1" metrics)" = "$(canon "$2" metrics)" ] || fail "metrics of $1 and $2 differ"
  [ "$(field "$1" "d['metrics']")" = "$(field "$2" "d['metrics']")" ] || fail "summaries of $1 and $2 differ"
}
# submit_les FILE ARGS...: submits the small les (with ARGS), waits, returns its id.
submit_les() {
  out=$1; shift
  "$DASHI" --json submit $LES "$@" --wait > "$out" || { cat "$out"; fail "les $* failed"; }
  json "$out" "d['id']"
}

L1=$(submit_les "$WORK/l1.json")
show "$L1"
[ "$(field "$L1" "d['reused_from'] is None and d['gpu_seconds'] > 0")" = True ] || fail "the first les must run"
# Without --wait: the record that submit returns is already succeeded.
"$DASHI" --json submit $LES > "$WORK/l2.json"
L2=$(json "$WORK/l2.json" "d['id']")
[ "$(json "$WORK/l2.json" "d['state'] == 'succeeded' and d['reused_from'] == $L1 and d['gpu_seconds'] == 0")" = True ] \
  || fail "identical les not reused at submit: $(cat "$WORK/l2.json")"
same_results "$L1" "$L2"
show "$L2"
[ "$(field "$L2" "any('reused the results of job $L1' in (e['detail'] or '') for e in d['events'])")" = True ] \
  || fail "no event names the original"
"$DASHI" --no-autostart show "$L2" | grep -q "reused from *$L1" || fail "show does not display reused_from"
"$DASHI" --no-autostart list | grep -q "^$L2 .*(reused from $L1)" || fail "list does not display reused_from"
ok "identical les reused at once: succeeded, reused_from $L1, 0 GPU s, same outputs, metrics, hashes, event"

L3=$(submit_les "$WORK/l3.json" --no-reuse)
show "$L3"
[ "$(field "$L3" "d['reused_from'] is None and d['gpu_seconds'] > 0")" = True ] || fail "--no-reuse must run"
same_outputs "$L1" "$L3"
ok "--no-reuse runs it again, with the same output hashes (determinism)"

L4=$(submit_les "$WORK/l4.json" --seed 1)
show "$L4"
[ "$(field "$L4" "d['reused_from'] is None")" = True ] || fail "a different seed was reused"
IC=$("$DASHI" put tests/data/omega_t0000.npy)
"$DASHI" --json submit les --N 64 --steps 2 --mode reference --ic "$IC" --wait > "$WORK/ic1.json"
"$PY" -c "import numpy as np; a=np.load('tests/data/omega_t0000.npy'); a[0,0]+=1e-3; np.save('$WORK/ic2.npy', a)"
IC2=$("$DASHI" put "$WORK/ic2.npy")
"$DASHI" --json submit les --N 64 --steps 2 --mode reference --ic "$IC2" --wait > "$WORK/ic2.json"
[ "$(json "$WORK/ic2.json" "d['reused_from'] is None and d['state'] == 'succeeded'")" = True ] \
  || fail "a different input was reused"
ok "a different parameter or input is not reused"

# The reused les's dependent runs; a train waiting on a running les is checked again once
# that les succeeds, and is then identical to the first train.
"$DASHI" --json submit train --traj "$L2" --mode reference --wait > "$WORK/t1.json" || fail "train on the reused les"
T1=$(json "$WORK/t1.json" "d['id']")
[ "$(json "$WORK/t1.json" "d['state'] == 'succeeded' and d['reused_from'] is None and d['gpu_seconds'] > 0")" = True ] \
  || fail "train on the reused les did not run: $(cat "$WORK/t1.json")"
"$DASHI" --json submit $LES --no-reuse > "$WORK/l5.json"
L5=$(json "$WORK/l5.json" "d['id']")
"$DASHI" --json submit train --traj "$L5" --mode reference --wait > "$WORK/t2.json" || fail "train on a running les"
[ "$(json "$WORK/t2.json" "d['state'] == 'succeeded' and d['reused_from'] == $T1")" = True ] \
  || fail "the waiting train was not reused once its les succeeded: $(cat "$WORK/t2.json")"
ok "a reused job's dependent runs; a dependent validated again after its deps is reused"

put_reference_rollout
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 20 --hash-every 5 --wait > "$WORK/r1.json"
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 20 --hash-every 5 --wait > "$WORK/r2.json"
R1=$(json "$WORK/r1.json" "d['id']"); R2=$(json "$WORK/r2.json" "d['id']")
[ "$(json "$WORK/r2.json" "d['reused_from'] == $R1")" = True ] || fail "identical rollout not reused"
[ "$("$DASHI" --json hashes "$R2" | "$PY" -c "import json,sys; print(len(json.load(sys.stdin)['hashes']))")" -gt 0 ] \
  || fail "the reused rollout has no hashes"
same_results "$R1" "$R2"
ok "identical rollout reused with the same hashes"

# An output blob removed from disk behind the daemon's back (as gc would): run again.
H=$(field "$L1" "d['outputs']['omega_final']")
find "$DASHI_STATE_DIR/blobs" -name "$H*" -exec rm {} +
L6=$(submit_les "$WORK/l6.json")
show "$L6"
[ "$(field "$L6" "d['reused_from'] is None and d['gpu_seconds'] > 0")" = True ] || fail "reused despite a missing output"
same_outputs "$L1" "$L6"
ok "an original whose output file is gone is not reused: the job runs and writes it again"

# Another user: a public job is reused, a private one is not.
as_nobody "$DASHI" --json --no-autostart submit $LES --wait > "$WORK/n1.json" || fail "nobody's les"
[ "$(json "$WORK/n1.json" "d['reused_from'] is not None and d['gpu_seconds'] == 0")" = True ] \
  || fail "another user's public job not reused: $(cat "$WORK/n1.json")"
P=$(submit_les "$WORK/p.json" --seed 5 --private)
as_nobody "$DASHI" --json --no-autostart submit $LES --seed 5 --wait > "$WORK/n2.json" || fail "nobody's seed-5 les"
[ "$(json "$WORK/n2.json" "d['reused_from'] is None and d['gpu_seconds'] > 0")" = True ] \
  || fail "another user's private job $P was reused: $(cat "$WORK/n2.json")"
ok "another user's job is reused only when visible"

# A sweep of four, two of them identical: three runs.
for s in 11 12 11 13; do submit_les "$WORK/s$s.json" --seed $s > /dev/null; done
RAN=$("$DASHI" --json list --kind les --limit 4 | "$PY" -c "import json,sys
print(sum(1 for j in json.load(sys.stdin)['jobs'] if j['reused_from'] is None))")
[ "$RAN" = 3 ] || fail "the sweep computed $RAN jobs, not 3"
ok "a sweep of 4 jobs with 2 identical computes 3"

stop_daemon
start_shared_daemon
L7=$(submit_les "$WORK/l7.json")
show "$L7"
[ "$(field "$L7" "d['reused_from'] is not None and d['gpu_seconds'] == 0")" = True ] || fail "not reused after a restart"
ok "the identity survives a restart"
stop_daemon
