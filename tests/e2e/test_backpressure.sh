# End to end: what one client can make the daemon hold is bounded (issue 14, items 1, 2
# and 8; tests/e2e/backpressure.py): unread replies (waits with their events, 4 MiB gets,
# 100,000 pings) stay under the reply caps and such a client is dropped; a uid's
# connections and in-flight frame bytes are capped with an error frame; slow, stalled and
# idle connections are closed after their timeouts; duplicate keys inside args are
# refused and bad requests leave the connection usable; a wait followed by a half-close
# is answered. A well-behaved client of another uid is served throughout. Then, under a
# descriptor limit of 256, a flood of connections from several uids is refused before the
# daemon starves its store: a running job still records its results.
. tests/e2e/lib.sh
REPLY_TIMEOUT=6 FRAME_TIMEOUT=8 IDLE_TIMEOUT=10 INFLIGHT_MIB=16
cat > "$WORK/dashid.conf" <<CONF
socket_mode = 0666
max_inflight_bytes_per_uid = ${INFLIGHT_MIB}M
reply_queue_timeout_s = $REPLY_TIMEOUT
frame_timeout_s = $FRAME_TIMEOUT
idle_timeout_s = $IDLE_TIMEOUT
CONF
# ASan keeps freed memory in a quarantine (256 MiB by default) that RSS would count.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=16"
start_daemon --config "$WORK/dashid.conf"
grep -q "descriptor limit" "$WORK/dashid.log" || fail "the daemon does not say what descriptor limit it got"

"$PY" -c "
import numpy as np
r = np.random.default_rng(5)
np.save('$WORK/big.npy', r.standard_normal((4 << 20) // 8 - 16))
np.save('$WORK/a16.npy', r.standard_normal((16, 16)) / 8); np.save('$WORK/z16.npy', r.standard_normal(16))"
BIG=$("$DASHI" put "$WORK/big.npy")
A16=$("$DASHI" put "$WORK/a16.npy")
Z16=$("$DASHI" put "$WORK/z16.npy")
"$DASHI" --json submit les --N 64 --steps 200000 > "$WORK/les.json"
LES=$(json "$WORK/les.json" "d['id']")
wait_state "$LES" running

"$PY" -u tests/e2e/backpressure.py "$DASHI_SOCKET" "$DAEMON_PID" "$LES" "$BIG" "$A16" "$Z16" \
  "$REPLY_TIMEOUT" "$FRAME_TIMEOUT" "$IDLE_TIMEOUT" "$INFLIGHT_MIB" || { tail -n 20 "$WORK/dashid.log"; fail "bounded connections"; }
kill -0 "$DAEMON_PID" || fail "daemon died"
"$DASHI" cancel "$LES" > /dev/null
wait_state "$LES" cancelled
if [ "$(id -u)" = 0 ]; then
  setpriv --reuid=65534 --regid=65534 --clear-groups "$DASHI" --no-autostart submit rollout --op "$A16" --z0 "$Z16" \
    --steps 100 --wait > /dev/null || fail "another user's small job after the attacks"
fi
"$DASHI" submit rollout --op "$A16" --z0 "$Z16" --steps 100 --wait > /dev/null || fail "a small job after the attacks"
ok "small jobs run after the attacks"
stop_daemon

# Descriptor headroom: with a hard limit of 256, 256 connections from four uids take the
# daemon to its headroom; the rest are refused and a running job, which writes a
# checkpoint (a new file) while they are held, still succeeds with its results recorded.
[ "$(id -u)" = 0 ] || { echo "SKIP - descriptor headroom: needs root to act as four uids"; exit 0; }
printf '#!/bin/sh\nulimit -n 256\nexec "%s" "$@"\n' "$DASHID" > "$WORK/dashid-256"
chmod 755 "$WORK/dashid-256"
DASHID="$WORK/dashid-256"
cat >> "$WORK/dashid.conf" <<CONF
checkpoint_every_s = 1
CONF
start_daemon --config "$WORK/dashid.conf"
grep -q "descriptor limit 256" "$WORK/dashid.log" || fail "the daemon should report its descriptor limit of 256"
"$DASHI" --json submit rollout --op "$A16" --z0 "$Z16" --steps 40000 --hash-every 10 > "$WORK/r.json"
JOB=$(json "$WORK/r.json" "d['id']")
wait_state "$JOB" running
"$PY" -u tests/e2e/backpressure.py fd-flood "$DASHI_SOCKET" "$DAEMON_PID" 4 || fail "descriptor headroom"
"$DASHI" --json wait "$JOB" > "$WORK/w.json" || fail "the job running during the flood: $(cat "$WORK/w.json")"
"$DASHI" --json hashes "$JOB" > "$WORK/h.json"
[ "$(json "$WORK/h.json" "len(d['hashes'])")" -ge 4000 ] || fail "the job's hashes were not all recorded"
ok "a job running while the connections fill the descriptor headroom succeeds with its results"
stop_daemon
