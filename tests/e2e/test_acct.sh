# End to end: `dashi acct` per-user accounting: jobs by state and GPU seconds, filtered
# by user and submission time; other users' private jobs count only for root.
. tests/e2e/lib.sh
need_second_user
start_shared_daemon
random_rollout_inputs 32 3
A=$("$DASHI" put "$WORK/a32.npy")
Z=$("$DASHI" put "$WORK/z32.npy")
T0=$("$PY" -c "import time; print(time.time())")

"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 200 --wait > "$WORK/r1.json" || fail "root job 1"
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 100 --private --wait > "$WORK/r2.json" || fail "root job 2"
submit_endless_rollout "$WORK/r3.json"
R3=$(json "$WORK/r3.json" "d['id']")
wait_state "$R3" running
"$DASHI" cancel "$R3" > /dev/null
wait_state "$R3" cancelled
as_nobody "$DASHI" --json --no-autostart submit rollout --op "$A" --z0 "$Z" --steps 50 --wait > "$WORK/n1.json" \
  || fail "nobody's job"

# Root's view: both users, all of root's jobs (its private one included).
"$DASHI" --json acct > "$WORK/a.json"
"$PY" - "$WORK" <<'PY' || fail "acct (root's view): $(cat "$WORK/a.json")"
import json, sys
w = sys.argv[1]
d = json.load(open(f"{w}/a.json"))
users = {u['uid']: u for u in d['users']}
assert set(users) == {0, 65534}, users.keys()
root, nobody = users[0], users[65534]
assert root['jobs'] == 3 and root['states']['succeeded'] == 2 and root['states']['cancelled'] == 1, root
assert sum(root['states'].values()) == root['jobs']
assert nobody['jobs'] == 1 and nobody['states']['succeeded'] == 1 and nobody['user'] == 'nobody', nobody
recs = [json.load(open(f"{w}/{n}.json")) for n in ("r1", "r2")]
root_secs = sum(r['gpu_seconds'] for r in recs)
assert root['gpu_seconds'] >= root_secs > 0, (root['gpu_seconds'], root_secs)
n1 = json.load(open(f"{w}/n1.json"))
assert abs(nobody['gpu_seconds'] - n1['gpu_seconds']) < 1e-9, (nobody, n1['gpu_seconds'])
PY
ok "acct: jobs by state and GPU seconds per user"

"$DASHI" --json acct --user nobody > "$WORK/u.json"
[ "$(json "$WORK/u.json" "[u['uid'] for u in d['users']]")" = "[65534]" ] || fail "--user filter: $(cat "$WORK/u.json")"
"$DASHI" --json acct --user 65534 > "$WORK/u2.json"
[ "$(json "$WORK/u2.json" "[u['uid'] for u in d['users']]")" = "[65534]" ] || fail "--user UID"
rc=0; "$DASHI" --json acct --user no_such_user_q9 > "$WORK/u3.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/u3.json" "d['error']['code']")" = E_NOT_FOUND ] || fail "unknown user: E_NOT_FOUND"
ok "acct --user (name or uid)"

"$DASHI" --json acct --since 1h > "$WORK/s1.json"
[ "$(json "$WORK/s1.json" "sum(u['jobs'] for u in d['users'])")" = 4 ] || fail "--since 1h should count all 4 jobs"
"$DASHI" --json acct --since "$("$PY" -c "print(int($T0) + 100000)")" > "$WORK/s2.json"
[ "$(json "$WORK/s2.json" "d['users']")" = "[]" ] || fail "--since in the future should count nothing"
"$DASHI" --json acct --since 2000-01-01 > "$WORK/s3.json"
[ "$(json "$WORK/s3.json" "sum(u['jobs'] for u in d['users'])")" = 4 ] || fail "--since a date"
rc=0; "$DASHI" --json acct --since yesterday > "$WORK/s4.json" 2>/dev/null || rc=$?
[ $rc -eq 1 ] && [ "$(json "$WORK/s4.json" "d['error']['field']")" = since ] || fail "bad --since: exit 1, field since"
ok "acct --since (seconds, durations, dates)"

# nobody's view: root's private job is not counted.
as_nobody "$DASHI" --json --no-autostart acct --user root > "$WORK/n.json"
[ "$(json "$WORK/n.json" "d['users'][0]['jobs']")" = 2 ] || fail "root's private job counted for another user: $(cat "$WORK/n.json")"
"$DASHI" acct | grep -q "^nobody" || fail "text table"
ok "acct hides other users' private jobs"
stop_daemon
