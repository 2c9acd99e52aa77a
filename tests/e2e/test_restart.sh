# End to end: a daemon killed with SIGKILL leaves its running job `interrupted` after a
# restart (never re-run silently); SIGTERM interrupts the running job, keeps the queued
# one queued, and a restart runs it.
. tests/e2e/lib.sh
start_daemon
put_reference_rollout
submit_endless_rollout "$WORK/k.json"
K=$(json "$WORK/k.json" "d['id']")
wait_state "$K" running
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=
start_daemon
"$DASHI" --json show "$K" > "$WORK/ks.json"
[ "$(json "$WORK/ks.json" "d['state']")" = interrupted ] || fail "killed job should be interrupted: $(cat "$WORK/ks.json")"
[ "$(json "$WORK/ks.json" "d['error']['code']")" = E_INTERRUPTED ] || fail "error code"
ok "SIGKILL: running job interrupted after restart"

submit_endless_rollout "$WORK/r.json"
R=$(json "$WORK/r.json" "d['id']")
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 20 --priority -1 > "$WORK/q.json"
Q=$(json "$WORK/q.json" "d['id']")
wait_state "$R" running
stop_daemon
grep -q "stopping (SIGTERM)" "$WORK/dashid.log" || fail "daemon did not log the stop"
start_daemon
"$DASHI" --json show "$R" > "$WORK/rs.json"
[ "$(json "$WORK/rs.json" "d['state']")" = interrupted ] || fail "SIGTERM: running job should be interrupted"
"$DASHI" --json wait "$Q" > "$WORK/qw.json" || fail "queued job should run after restart: $(cat "$WORK/qw.json")"
[ "$(json "$WORK/qw.json" "d['state']")" = succeeded ] || fail "queued job state"
ok "SIGTERM: running interrupted, queued kept and run after restart"
stop_daemon
