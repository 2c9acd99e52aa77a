# End to end: why jobs wait, their logs and live watching (issue 17). One shared daemon
# with a 36 MiB device budget, a large fair share for uid 65534 and a small reply queue:
# a dependent says `waiting for job L`, root's job passed over for nobody's says `fair
# share: uid 65534 first`, a job that does not fit beside the running ones says `device
# memory` (status, show, list, watch); `log` and `log --follow` give the job's events in
# order and follow ends with the job; `watch` one job or all ends when they end with the
# exit status of `wait`; hostile and unread subscriptions (tests/e2e/watch_attacks.py).
. tests/e2e/lib.sh
need_second_user
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=16" # RSS is measured below
start_shared_daemon 'share.nobody = 1000' 'device_memory_budget = 36M' 'max_reply_queue_bytes = 64K'
put_reference_rollout
random_rollout_inputs 16 1
random_rollout_inputs 1536 2
A16=$("$DASHI" put "$WORK/a16.npy"); Z16=$("$DASHI" put "$WORK/z16.npy")
A1K=$("$DASHI" put "$WORK/a1536.npy"); Z1K=$("$DASHI" put "$WORK/z1536.npy")
# Device memory (estimates on lavapipe): L 19.3 MiB, the 16-dim rollouts 0.5 MiB each, the
# 1536-dim one 18 MiB: it fits the budget alone but not beside the other three.

# reason_is ID PREFIX: polls status (at most ~20 s) until the job's reason starts with PREFIX.
reason_is() {
  i=0
  while :; do
    "$DASHI" --json status "$1" > "$WORK/reason.json"
    json "$WORK/reason.json" "(d['reason'] or '').startswith('''$2''')" | grep -qx True && return 0
    i=$((i + 1)); [ $i -lt 200 ] || fail "job $1's reason is $(json "$WORK/reason.json" "d['reason']"), not '$2...'"
    sleep 0.1
  done
}

submit_endless_rollout "$WORK/l.json"
L=$(json "$WORK/l.json" "d['id']")
wait_state "$L" running
"$DASHI" --json submit rollout --op "$A" --z0 "$L" --steps 10 > "$WORK/dep.json"
DEP=$(json "$WORK/dep.json" "d['id']")
[ "$(json "$WORK/dep.json" "d['reason']")" = "waiting for job $L" ] || fail "submit's record: $(cat "$WORK/dep.json")"
reason_is "$DEP" "waiting for job $L"
"$DASHI" --json show "$DEP" > "$WORK/show.json"
[ "$(json "$WORK/show.json" "d['reason']")" = "waiting for job $L" ] || fail "show's reason"
"$DASHI" show "$DEP" | grep -q "waiting .*waiting for job $L" || fail "text show has no reason"
"$DASHI" list | grep -E "^$DEP +rollout +queued .*waiting for job $L\$" > /dev/null || fail "list's reason column: $("$DASHI" list)"
"$DASHI" --json list > "$WORK/list.json"
json "$WORK/list.json" "[j['reason'] for j in d['jobs'] if j['id'] == $DEP]" | grep -q "waiting for job $L" \
  || fail "list --json reason"
ok "a dependent says which job it waits for (submit, status, show, list)"

sleep 1 # root has used the GPU: uid 65534, with share 1000, goes first from now on
as_nobody "$DASHI" --json --no-autostart submit rollout --op "$A16" --z0 "$Z16" --steps 1000000000 --hash-every 0 \
  > "$WORK/n.json"
N=$(json "$WORK/n.json" "d['id']")
wait_state "$N" running
"$DASHI" --json submit rollout --op "$A16" --z0 "$Z16" --steps 999999999 --hash-every 0 --private > "$WORK/r.json"
R=$(json "$WORK/r.json" "d['id']")
reason_is "$R" "fair share: uid 65534 first"
ok "root's job passed over for uid 65534's says so"

"$DASHI" --json submit rollout --op "$A1K" --z0 "$Z1K" --steps 20 --hash-every 0 > "$WORK/big.json"
BIG=$(json "$WORK/big.json" "d['id']")
reason_is "$BIG" "device memory (needs 18.0 MiB"
ok "a job that does not fit beside the running ones: $(json "$WORK/reason.json" "d['reason']")"

# watch (all of root's jobs) and log --follow run in the background until the jobs end.
"$DASHI" --json watch > "$WORK/watch_all.jsonl" & WATCH_ALL=$!
"$DASHI" log "$L" --follow > "$WORK/follow.txt" & FOLLOW=$!
"$DASHI" --json log "$L" --follow > "$WORK/follow.jsonl" & FOLLOW_JSON=$!
as_nobody "$DASHI" --json --no-autostart watch > "$WORK/watch_nobody.jsonl" & WATCH_NOBODY=$!
rc=0; as_nobody "$DASHI" --no-autostart watch "$R" 2> "$WORK/private.err" || rc=$?
[ $rc -eq 2 ] && grep -q "E_NOT_FOUND id" "$WORK/private.err" || fail "watching another's private job: $rc $(cat "$WORK/private.err")"
sleep 1
# A started job starved by fair share gets no slice, so it cannot end either: nobody's
# job goes, and root's run again.
as_nobody "$DASHI" --no-autostart cancel "$N" > /dev/null
wait_state "$N" cancelled

"$PY" -u tests/e2e/watch_attacks.py "$DASHI_SOCKET" "$DAEMON_PID" "$L" 1024 || fail "watch and log attacks"
# The attacks cancelled L: its dependent fails, its followers end.
wait "$FOLLOW" || fail "log --follow exit status"
wait "$FOLLOW_JSON" || fail "log --follow --json exit status"
grep -q "queued" "$WORK/follow.txt" && grep -q "running" "$WORK/follow.txt" && grep -q "cancelled  E_CANCELLED" "$WORK/follow.txt" \
  || fail "log --follow: $(cat "$WORK/follow.txt")"
"$PY" - "$WORK/follow.jsonl" <<'PY' || fail "log --follow --json"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
states = [l["state"] for l in lines]
assert states[:2] == ["queued", "running"] and states[-2:] == ["cancelled", "cancelled"], states
assert [l["seq"] for l in lines[:-1]] == sorted(l["seq"] for l in lines[:-1]), lines
PY
"$DASHI" log "$L" > "$WORK/log.txt"
cmp -s "$WORK/log.txt" "$WORK/follow.txt" || fail "log after the end differs from what follow printed"
ok "log and log --follow: the job's events in order, follow ends with the job"

rc=0; "$DASHI" --json watch "$DEP" > "$WORK/watch_dep.jsonl" || rc=$?
wrc=0; "$DASHI" wait "$DEP" > /dev/null || wrc=$?
[ $rc -eq $wrc ] && [ $rc -eq 2 ] || fail "watch of a failed job: exit $rc, wait's $wrc"
"$DASHI" cancel "$R" > /dev/null
rc=0; "$DASHI" --json watch "$BIG" > "$WORK/watch_big.jsonl" || rc=$?
[ $rc -eq 0 ] || fail "watch of a succeeded job: exit $rc"
"$PY" - "$WORK/watch_big.jsonl" <<'PY' || fail "watch --json of one job: $(cat "$WORK/watch_big.jsonl")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines[-1]["jobs"][0]["state"] == "succeeded", lines[-1]
assert lines[-2]["state"] == "succeeded" and lines[-2]["step"] == 20, lines[-2]
PY
ok "watch ID ends with the job, exit status as wait's"

rc=0; wait "$WATCH_ALL" || rc=$?
[ $rc -ne 0 ] || fail "watch of all jobs, some cancelled, exited 0"
"$PY" - "$WORK/watch_all.jsonl" "$L $DEP $R $BIG" <<'PY' || fail "watch --json of all jobs"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
want = sorted(int(x) for x in sys.argv[2].split())
answer = lines[-1]["jobs"]
assert sorted(j["id"] for j in answer) == want, answer
states = {j["id"]: j["state"] for j in answer}
assert states[want[0]] == "cancelled" and states[want[1]] == "failed" and states[want[3]] == "succeeded", states
events = lines[:-1]
reasons = {(e["job"], e.get("reason")) for e in events}
assert (want[1], f"waiting for job {want[0]}") in reasons, reasons
assert (want[2], "fair share: uid 65534 first") in reasons, reasons
assert any(j == want[3] and (r or "").startswith("device memory") for j, r in reasons), reasons
rated = [e for e in events if e["job"] == want[0] and e.get("rate", 0) > 0]
assert rated and all(e["eta"] is not None and e["eta"] > 0 for e in rated), "no rate or eta for the running job"
PY
wait "$WATCH_NOBODY" || true
"$PY" - "$WORK/watch_nobody.jsonl" "$N" <<'PY' || fail "nobody's watch shows only nobody's jobs"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [j["id"] for j in lines[-1]["jobs"]] == [int(sys.argv[2])], lines[-1]
assert {e["job"] for e in lines[:-1]} == {int(sys.argv[2])}, lines
PY
"$DASHI" watch > "$WORK/none.txt"
grep -qx "no active jobs" "$WORK/none.txt" || fail "watch with nothing active: $(cat "$WORK/none.txt")"
ok "watch without an id: all of the caller's jobs, with reasons, rate and ETA, until they end"
stop_daemon
