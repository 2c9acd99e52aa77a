# End to end: 50 concurrent clients (separate processes) each submit a small job and
# query its status 19 times while the GPU is busy with a long job (bench/load.py).
# Asserts that no request fails, every client finishes in time and every submitted job
# succeeds; prints requests/s and the p50/p99 latency of `status`.
. tests/e2e/lib.sh
start_daemon
put_reference_rollout
random_rollout_inputs 16 7
A16=$("$DASHI" put "$WORK/a16.npy")
Z16=$("$DASHI" put "$WORK/z16.npy")
submit_endless_rollout "$WORK/long.json"
LONG=$(json "$WORK/long.json" "d['id']")
wait_state "$LONG" running

"$PY" bench/load.py --op "$A16" --z0 "$Z16" --clients 50 --requests 20 --timeout 120 --json > "$WORK/load.json" \
  || fail "load test: $(cat "$WORK/load.json")"
json "$WORK/load.json" "'%d requests in %.2f s: %.0f requests/s; status p50 %.2f ms, p99 %.2f ms' % (d['requests'], d['seconds'], d['requests_per_s'], d['status_p50_ms'], d['status_p99_ms'])"
[ "$(json "$WORK/load.json" "d['requests'] == 1000 and d['failed_requests'] == 0")" = True ] || fail "requests lost"
"$DASHI" --json status "$LONG" > "$WORK/ls.json"
[ "$(json "$WORK/ls.json" "d['state']")" = running ] || fail "the long job should still be running"
ok "50 clients x 20 requests while the GPU is busy, none failed"

for j in $(json "$WORK/load.json" "' '.join(str(j) for j in d['jobs'])"); do
  "$DASHI" --json wait "$j" > "$WORK/w.json" || fail "job $j of the load test failed: $(cat "$WORK/w.json")"
done
ok "all 50 submitted jobs succeeded"
"$DASHI" cancel "$LONG" > /dev/null
wait_state "$LONG" cancelled
stop_daemon
