# End to end: per-user limits from the config file (E_QUOTA naming the limit, nothing
# queued), the device-memory budget (E_DEVICE_MEMORY at submit), a job that fails
# in its start (its input vanished) failing alone while the daemon keeps serving, and
# jobs over their GPU-time limit (their own time_limit or the user's max_gpu_seconds)
# stopped between slices with E_QUOTA while the daemon and other jobs go on.
. tests/e2e/lib.sh
need_second_user
cat > "$WORK/dashid.conf" <<CONF
socket_mode = 0666
max_steps = 1000                     # everyone
limit.root.max_steps = 1000000000    # root's own entry overrides the default
limit.root.max_queued_jobs = 2
limit.65534.max_steps = 10
limit.65534.max_gpu_memory = 2M
CONF
start_daemon --config "$WORK/dashid.conf"
put_reference_rollout
count_jobs() { "$DASHI" --json list --limit 1000 > "$WORK/l.json"; json "$WORK/l.json" "len(d['jobs'])"; }

# expect_quota FIELD CMD...: the command exits 6 with E_QUOTA naming FIELD, nothing queued.
expect_quota() {
  field=$1; shift
  before=$(count_jobs)
  rc=0; "$@" > "$WORK/q.json" 2>/dev/null || rc=$?
  [ $rc -eq 6 ] || fail "expected exit 6 for $field, got $rc: $(cat "$WORK/q.json")"
  [ "$(json "$WORK/q.json" "d['error']['code']")" = E_QUOTA ] || fail "expected E_QUOTA: $(cat "$WORK/q.json")"
  [ "$(json "$WORK/q.json" "d['error']['field']")" = "$field" ] || fail "field should be $field: $(cat "$WORK/q.json")"
  json "$WORK/q.json" "'$field' in d['error']['message']" | grep -qx True || fail "message should name $field"
  [ "$(count_jobs)" = "$before" ] || fail "a refused job was queued ($field)"
}

# A small operator (D = 16, about 2 KiB of device memory) for nobody's permitted jobs.
random_rollout_inputs 16 5
A16=$("$DASHI" put "$WORK/a16.npy")
Z16=$("$DASHI" put "$WORK/z16.npy")
expect_quota max_steps as_nobody "$DASHI" --json --no-autostart submit rollout --op "$A16" --z0 "$Z16" --steps 11
as_nobody "$DASHI" --json --no-autostart submit rollout --op "$A16" --z0 "$Z16" --steps 10 --wait > "$WORK/n.json" \
  || fail "a job within the limit should run: $(cat "$WORK/n.json")"
ok "max_steps per user (limit.65534.max_steps = 10)"

# The D = 654 rollout's estimate (about 3.3 MiB) is over nobody's 2 MiB.
expect_quota max_gpu_memory as_nobody "$DASHI" --json --no-autostart submit rollout --op "$A" --z0 "$Z" --steps 5
ok "max_gpu_memory per user"

submit_endless_rollout "$WORK/long.json"
LONG=$(json "$WORK/long.json" "d['id']")
wait_state "$LONG" running
submit_endless_rollout "$WORK/l2.json"
L2=$(json "$WORK/l2.json" "d['id']")
expect_quota max_queued_jobs "$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 5
ok "max_queued_jobs per user (root: 2 active)"
"$DASHI" cancel "$L2" > /dev/null
"$DASHI" cancel "$LONG" > /dev/null
wait_state "$LONG" cancelled
"$DASHI" --json submit rollout --op "$A16" --z0 "$Z16" --steps 1500 --hash-every 500 --wait > /dev/null || fail "root's own max_steps"
ok "a user's entry overrides the default (root may run 1500 steps, the default is 1000)"

# A job whose start fails (its z0 blob was removed from the store after submission)
# fails with a clear error; the daemon keeps serving. The failing job waits behind a
# long job of higher priority, so the blob is gone before it starts.
Z1=$("$DASHI" put tests/data/z_t0001.npy)
submit_endless_rollout "$WORK/l3.json"
L3=$(json "$WORK/l3.json" "d['id']")
"$DASHI" --json submit rollout --op "$A" --z0 "$Z1" --steps 5 --priority -5 > "$WORK/s.json"
S=$(json "$WORK/s.json" "d['id']")
wait_state "$L3" running
BLOB="$DASHI_STATE_DIR/blobs/$(echo "$Z1" | cut -c1-2)/$Z1.npy"
[ -f "$BLOB" ] || fail "blob file not where the store keeps it: $BLOB"
rm -f "$BLOB"
"$DASHI" cancel "$L3" > /dev/null
rc=0; "$DASHI" --json wait "$S" > "$WORK/sw.json" || rc=$?
[ "$(json "$WORK/sw.json" "d['state']")" = failed ] || fail "job with a vanished input should fail: $(cat "$WORK/sw.json")"
json "$WORK/sw.json" "'$Z1' in d['error']['message'] or 'z_t' in d['error']['message'] or d['error']['code'] in ('E_IO','E_NOT_FOUND')" \
  | grep -qx True || fail "the error should say what is missing: $(json "$WORK/sw.json" "d['error']")"
"$DASHI" ping > /dev/null || fail "daemon not serving after a job failed in start"
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 20 --wait > "$WORK/after.json" || fail "next job failed"
ok "a job failing in start fails alone; the daemon keeps serving ($(json "$WORK/sw.json" "d['error']['code'] + ': ' + d['error']['message']"))"
stop_daemon

# The device-memory budget (device_memory_budget caps the device's): a job over it is
# refused at submit with E_DEVICE_MEMORY.
printf 'device_memory_budget = 1M\nmax_gpu_seconds = 2\n' > "$WORK/small.conf"
start_daemon --config "$WORK/small.conf"
"$DASHI" --json ping > "$WORK/ping.json"
[ "$(json "$WORK/ping.json" "d['memory_budget']")" = 1048576 ] || fail "memory_budget should be 1 MiB"
before=$(count_jobs)
rc=0; "$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 5 > "$WORK/dm.json" 2>/dev/null || rc=$?
[ $rc -eq 6 ] && [ "$(json "$WORK/dm.json" "d['error']['code']")" = E_DEVICE_MEMORY ] \
  || fail "expected E_DEVICE_MEMORY (exit 6), got $rc: $(cat "$WORK/dm.json")"
[ "$(count_jobs)" = "$before" ] || fail "a job over the device budget was queued"
ok "job over the device budget refused at submit (E_DEVICE_MEMORY)"

# expect_stopped FILE FIELD LIMIT: the job in FILE ran, and was stopped by LIMIT (seconds).
expect_stopped() {
  [ "$(json "$1" "d['state']")" = failed ] || fail "job over its time limit not failed: $(cat "$1")"
  [ "$(json "$1" "d['error']['code']")" = E_QUOTA ] || fail "expected E_QUOTA: $(json "$1" "d['error']")"
  [ "$(json "$1" "d['error']['field']")" = "$2" ] || fail "field should be $2: $(json "$1" "d['error']")"
  json "$1" "$3 <= d['gpu_seconds'] < $3 + 3 and d['progress']['step'] > 0" | grep -qx True \
    || fail "the job should have run about $3 s: gpu_seconds $(json "$1" "d['gpu_seconds']"), step $(json "$1" "d['progress']['step']")"
}
"$DASHI" --json submit rollout --op "$A16" --z0 "$Z16" --steps 1000000000 --hash-every 1000000 > "$WORK/g1.json"
G1=$(json "$WORK/g1.json" "d['id']")
rc=0; "$DASHI" --json submit rollout --op "$A16" --z0 "$Z16" --steps 1000000000 --hash-every 1000000 \
  --time-limit 0.5 --wait > "$WORK/tl.json" || rc=$?
[ $rc -eq 6 ] || fail "a job over its time_limit should exit 6, got $rc"
expect_stopped "$WORK/tl.json" time_limit 0.5
[ "$(json "$WORK/tl.json" "d['time_limit']")" = 0.5 ] || fail "the record should keep time_limit"
rc=0; "$DASHI" --json wait "$G1" > "$WORK/g1w.json" || rc=$?
expect_stopped "$WORK/g1w.json" max_gpu_seconds 2
"$DASHI" --json submit rollout --op "$A16" --z0 "$Z16" --steps 100 --wait > /dev/null || fail "a job within the limits"
ok "GPU-time limits: time_limit 0.5 s and max_gpu_seconds 2 s stop their jobs alone ($(json "$WORK/g1w.json" "d['error']['message']"))"
stop_daemon

# A bad limit stops startup naming the key.
printf 'limit.no_such_user_xyz.max_steps = 5\n' > "$WORK/bad.conf"
rc=0; "$DASHID" --foreground --socket "$WORK/bad.sock" --state-dir "$WORK/bad" --config "$WORK/bad.conf" \
  > "$WORK/bad.log" 2>&1 || rc=$?
[ $rc -ne 0 ] && grep -q "limit.no_such_user_xyz.max_steps" "$WORK/bad.log" || fail "bad limit key accepted: $(cat "$WORK/bad.log")"
ok "unknown user in a limit key stops startup"
