# End to end: cancellation, ownership and private jobs across two real users. The
# second user is uid 65534 (setpriv drops to it), as SO_PEERCRED sees it.
. tests/e2e/lib.sh
need_second_user
# A Slurm workdir, so that only the caller's identity stops --executor slurm below (sbatch is
# never reached: a missing one would record a failed job).
mkdir "$WORK/slurmwork"
start_shared_daemon "slurm_workdir = $WORK/slurmwork" "sbatch = $WORK/no/sbatch"

put_reference_rollout
# Long enough never to finish on its own: it ends only by being cancelled.
submit_endless_rollout "$WORK/long.json"
LONG=$(json "$WORK/long.json" "d['id']")
wait_state "$LONG" running
ok "long job running"

# Slurm would run another user's job as the daemon's user: refused before anything is recorded.
rc=0; as_nobody "$DASHI" --json --no-autostart submit les --N 16 --steps 2 --executor slurm > "$WORK/sl.json" \
  2>/dev/null || rc=$?
[ "$(json "$WORK/sl.json" "d['error']['code'], d['error']['field']")" = "E_PERMISSION executor" ] && [ $rc -ne 0 ] \
  || fail "--executor slurm from another user: exit $rc, $(cat "$WORK/sl.json")"
as_nobody "$DASHI" --json --no-autostart list --user nobody > "$WORK/sl.json"
[ "$(json "$WORK/sl.json" "len(d['jobs'])")" = 0 ] || fail "the refused Slurm job was recorded: $(cat "$WORK/sl.json")"
ok "--executor slurm from another user than the daemon's: E_PERMISSION naming executor, nothing recorded"

rc=0; as_nobody "$DASHI" --json --no-autostart cancel "$LONG" > "$WORK/c.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "another user's cancel should exit 2, got $rc"
[ "$(json "$WORK/c.json" "d['error']['code']")" = E_PERMISSION ] || fail "expected E_PERMISSION: $(cat "$WORK/c.json")"
"$DASHI" --json status "$LONG" > "$WORK/s.json"
[ "$(json "$WORK/s.json" "d['state']")" = running ] || fail "job no longer running after a refused cancel"
ok "uid 65534 cannot cancel root's job"

as_nobody "$DASHI" --json --no-autostart show "$LONG" > "$WORK/seen.json" || fail "public job should be visible"
[ "$(json "$WORK/seen.json" "d['user']")" = root ] || fail "owner"
ok "public job visible to other users"

# A private job: its owner sees it, others get E_NOT_FOUND (its existence is not disclosed).
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 5 --private --wait > "$WORK/p.json"
PRIV=$(json "$WORK/p.json" "d['id']")
rc=0; as_nobody "$DASHI" --json --no-autostart show "$PRIV" > "$WORK/ps.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/ps.json" "d['error']['code']")" = E_NOT_FOUND ] || fail "private job visible to others"
as_nobody "$DASHI" --json --no-autostart list > "$WORK/pl.json"
json "$WORK/pl.json" "$PRIV in [j['id'] for j in d['jobs']]" | grep -qx False || fail "private job listed to others"
ok "private jobs hidden from other users"

# The second user submits its own job and the record names it.
as_nobody "$DASHI" --json --no-autostart submit rollout --op "$A" --z0 "$Z" --steps 3 --wait > "$WORK/n.json" \
  || fail "uid 65534 could not run a job"
[ "$(json "$WORK/n.json" "d['uid']")" = 65534 ] || fail "job uid should come from SO_PEERCRED"
ok "second user's job recorded with its uid"

# The owner cancels: the running job stops between slices; wait exits 4.
"$DASHI" --json cancel "$LONG" > "$WORK/c2.json"
rc=0; "$DASHI" --json wait "$LONG" > "$WORK/w.json" || rc=$?
[ $rc -eq 4 ] || fail "wait on a cancelled job should exit 4, got $rc"
[ "$(json "$WORK/w.json" "d['state']")" = cancelled ] || fail "state after cancel"
[ "$(json "$WORK/w.json" "d['error']['code']")" = E_CANCELLED ] || fail "error code after cancel"
rc=0; "$DASHI" --json cancel "$LONG" > "$WORK/c3.json" 2>/dev/null || rc=$?
[ "$(json "$WORK/c3.json" "d['error']['code']")" = E_STATE ] || fail "cancelling a cancelled job should be E_STATE"
ok "owner cancels a running job"

# A queued job (behind another) is cancelled at once.
submit_endless_rollout "$WORK/l2.json"
L2=$(json "$WORK/l2.json" "d['id']")
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 10 --priority -5 > "$WORK/q.json"
Q=$(json "$WORK/q.json" "d['id']")
wait_state "$L2" running
"$DASHI" --json cancel "$Q" > "$WORK/cq.json"
[ "$(json "$WORK/cq.json" "d['state']")" = cancelled ] || fail "queued job should be cancelled at once: $(cat "$WORK/cq.json")"
"$DASHI" cancel "$L2" > /dev/null
wait_state "$L2" cancelled
ok "queued job cancelled"

stop_daemon
